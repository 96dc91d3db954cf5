"""Bit-exact model of the hardware scheduler (``rtl/scheduler``): arithmetic and timing.

Given the same stimulus (request offers at cycles, NPU latency and non-zero count per
command) :class:`BitExactScheduler` produces the same decisions (slot, cycle), the same
accepts and the same completions as the RTL, for every hardware policy
(:mod:`sw_scheduler.hw_policies`). Cycles are absolute (0 = first cycle after reset); the
hardware counter reads ``(counter_init + cycle) mod 2**time_width``.

Timing contract (see ``docs/scheduler_rtl.md``, depths from :mod:`sw_scheduler.timing`),
with ``n`` active requests:

* a request is accepted in the first cycle ``>=`` its offer cycle (and after the previous
  accept) in which the scheduler is IDLE (table empty) or RUN (a layer in flight) and the
  table is not full; it is appended at slot ``n`` with ``arrival``, ``last_run`` and
  ``vstart`` = counter at accept;
* IDLE + accept at ``a`` -> SCAN starts at ``a + 1``; a SCAN starting at ``c`` ranks all
  ``n`` entries with ``t`` = counter at ``c`` and issues the command at
  ``c + n + scan_overhead(policy)`` (the NPU is assumed ready: handshake in that cycle);
* the NPU response is accepted at ``T = cmd + latency`` (latency >= 1); after a non-final
  layer the next SCAN starts at ``T + resume_delay(policy uses gamma)`` and ranks the entry
  already updated (layer + 1, ``last_run`` = counter at ``T``, ``vstart`` += counter at
  ``T`` - ``t`` of the deciding SCAN, gamma from the predictor); after the last layer the
  completion (finish = counter at ``T``) goes out at ``T + COMPLETION_DELAY`` (the host is
  assumed ready), the last table entry moves into the freed slot and the next SCAN (or
  IDLE, if empty) starts at ``T + RETIRE_DELAY``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from . import formats as F
from .hw_policies import hw_policy
from .records import Request
from .reference.core import Policy
from .timing import COMPLETION_DELAY, RETIRE_DELAY, resume_delay, scan_overhead

__all__ = [
    "BitExactPolicy",
    "BitExactScheduler",
    "Decision",
    "DystaBitExactPolicy",
    "Result",
    "Retirement",
    "encode_request",
    "predict",
    "ratio_code",
]

_RATIO_SHIFT = F.INV_NNZ.frac - F.GAMMA.frac
_BUSY_SHIFT = F.INV_BUSY.frac - F.GAMMA.frac
GAMMA_ONE = 1 << F.GAMMA.frac


def ratio_code(nnz: int, inv_nnz: int) -> int:
    """GAMMA code of ``measured_nnz / mean_nnz``, saturated."""
    return min((nnz * inv_nnz) >> _RATIO_SHIFT, F.GAMMA.max_int)


def predict(variant: str, gamma: int, gamma_sum: int, count: int, nnz: int, inv_nnz: int,
            recip: list[int]) -> tuple[int, int, int]:
    """Predictor update after one layer; returns ``(gamma, gamma_sum, count)``.

    ``mean``/``last``: ``nnz`` the layer's output non-zeros, ``inv_nnz`` its INV_NNZ;
    ``inv_nnz == 0`` (layer without mean non-zeros) leaves the state unchanged.
    ``recip[count + 1]`` must exist (``count + 1 <= max_layers``).
    ``busy``: ``nnz`` the layer's measured cycles, ``inv_nnz`` the INV_BUSY of the prefix
    up to this layer; ``gamma_sum`` counts the cycles (BUSY_SUM) and ``inv_nnz == 0``
    leaves only gamma unchanged; ``count`` is not used.
    """
    if variant == "busy":
        s = min(gamma_sum + nnz, F.BUSY_SUM.max_int)
        if inv_nnz == 0:
            return gamma, s, count
        return min((s * inv_nnz) >> _BUSY_SHIFT, F.GAMMA.max_int), s, count
    if inv_nnz == 0:
        return gamma, gamma_sum, count
    r = ratio_code(nnz, inv_nnz)
    if variant == "last":
        return r, gamma_sum, count
    s = min(gamma_sum + r, F.GAMMA_SUM.max_int)
    c = count + 1
    g = min((s * recip[c]) >> F.RECIP.frac, F.GAMMA.max_int)
    return g, s, c


def encode_request(r: Request, time_width: int) -> dict:
    """The hardware request fields of ``r``: wrapped tag and deadline, ids, priority index.

    The tag field holds ``tag mod 2**TAG_WIDTH`` (hosts match a completion to the running
    request, so tags wrap freely; see docs/scheduler_rtl.md). Raises ValueError naming the
    request and the field that the hardware cannot encode.
    """
    if not isinstance(r.tag, int) or r.tag < 0:
        raise ValueError(f"request {r.tag!r}: field 'tag' = {r.tag!r} is not an int >= 0")
    if r.priority not in F.PRIORITY_LEVELS:
        raise ValueError(f"request {r.tag}: field 'priority' = {r.priority!r} is not one "
                         f"of the hardware levels {F.PRIORITY_LEVELS}")
    if r.arrival < 0:
        raise ValueError(f"request {r.tag}: field 'arrival' = {r.arrival!r} is negative")
    return {"tag": r.tag % (1 << F.TAG_WIDTH), "model": r.model_id, "pattern": r.pattern_id,
            "deadline": r.deadline % (1 << time_width),
            "priority": F.PRIORITY_LEVELS.index(r.priority)}


@dataclass(frozen=True)
class Decision:
    cycle: int          # absolute cycle of the NPU command handshake
    slot: int
    tag: int
    model: int
    pattern: int
    layer: int
    n_active: int
    scan_start: int     # absolute cycle the SCAN began (t = counter then)


@dataclass(frozen=True)
class Retirement:
    """A completion-port handshake of the hardware (the request's last layer is done)."""

    cycle: int          # absolute cycle of the completion handshake
    tag: int
    finish: int         # counter value of the last layer-done (the payload)
    finish_cycle: int   # the same as an absolute cycle


@dataclass
class Result:
    accepts: list = field(default_factory=list)       # (tag, absolute cycle)
    decisions: list = field(default_factory=list)     # Decision
    completions: list = field(default_factory=list)   # Retirement
    end_cycle: int = 0


class BitExactScheduler:
    """Event-driven, cycle-exact model of the RTL scheduler.

    Parameters
    ----------
    config : rtl.scheduler.layouts.SchedulerConfig
        Its ``policy`` picks the key (:mod:`sw_scheduler.hw_policies`) and the timing.
    images : LutImages
        LUT contents (same layout as ``config.lut``).
    """

    def __init__(self, config, images):
        config.check_images(images)
        self.cfg = config
        self.images = images
        self.recip = F.recip_table(config.recip_depth)
        self.policy = hw_policy(config.policy)
        self.scan_overhead = scan_overhead(config.policy)
        self.resume_delay = resume_delay(self.policy.gamma)

    def now(self, cycle: int) -> int:
        return (self.cfg.counter_init + cycle) % self.cfg.time_mod

    def keys(self, table: list[dict], t: int) -> list[int]:
        """The policy's key of every entry at counter value ``t``."""
        cfg, img = self.cfg, self.images
        recip_n = self.recip[len(table)]
        lmask = cfg.lut.max_layers - 1
        out = []
        for row in table:
            m, p, lay = row["model"], row["pattern"], row["layer"]
            out.append(self.policy.key(
                t=t, row=row, var=img.variant_entry(m, p), lay=img.layer_entry(m, p, lay),
                nxt=img.layer_entry(m, p, (lay + 1) & lmask) if self.policy.next_layer
                else None, recip_n=recip_n, beta=cfg.beta, kappa=cfg.kappa,
                time_width=cfg.time_width, score_width=cfg.score_width))
        return out

    def run(self, requests, npu, *, max_decisions: int | None = None) -> Result:
        """Simulate until every request has completed.

        Parameters
        ----------
        requests : iterable of :class:`sw_scheduler.records.Request`
            Offered in this order, each from its ``arrival`` cycle on (fields encoded by
            :func:`encode_request`).
        npu : callable ``(k, Decision) -> (latency, nnz)``
            ``k`` counts commands from 0. ``latency >= 1`` cycles from the command
            handshake to the response handshake; ``nnz`` the layer's output non-zeros.
        """
        cfg, img = self.cfg, self.images
        mask = cfg.time_mod - 1
        pending = deque(requests)
        res = Result()
        table: list[dict] = []
        last_accept = -1

        def accept(a):
            nonlocal last_accept
            r = pending.popleft()
            f = encode_request(r, cfg.time_width)
            cfg.pack(cfg.request_layout, f)         # ValueError naming a field that does not fit
            stamp = self.now(a)
            table.append({**f, "arrival": stamp, "last_run": stamp, "vstart": stamp,
                          "layer": 0, "gamma": GAMMA_ONE, "gamma_sum": 0, "count": 0,
                          "request": r.tag})     # the unwrapped tag, for the records
            last_accept = a
            res.accepts.append((r.tag, a))

        k = 0          # current cycle
        state = "IDLE"
        while True:
            if state == "IDLE":
                if not pending:
                    break
                a = max(pending[0].arrival, last_accept + 1, k)
                accept(a)
                k, state = a + 1, "SCAN"
                continue
            # SCAN starting at k
            n = len(table)
            t = self.now(k)
            sc = self.keys(table, t)
            w = min(range(n), key=lambda i: (sc[i], i))
            row = table[w]
            c = k + n + self.scan_overhead
            d = Decision(cycle=c, slot=w, tag=row["request"], model=row["model"],
                         pattern=row["pattern"], layer=row["layer"], n_active=n, scan_start=k)
            res.decisions.append(d)
            if max_decisions is not None and len(res.decisions) > max_decisions:
                raise RuntimeError(f"more than {max_decisions} decisions")
            lat, nnz = npu(len(res.decisions) - 1, d)
            if lat < 1:
                raise ValueError(f"NPU latency must be >= 1, got {lat}")
            T = c + lat
            # RUN: accept offers in cycles c+1 .. T
            lo = c + 1
            while pending and len(table) < cfg.num_slots:
                a = max(pending[0].arrival, last_accept + 1, lo)
                if a > T:
                    break
                accept(a)
            m, p, layer = row["model"], row["pattern"], row["layer"]
            nl = layer + 1
            n_layers = img.variant_entry(m, p)["n_layers"]
            if nl >= n_layers or nl >= cfg.lut.max_layers:
                # POST at T+1, RET at T+2: completion, last entry moves into slot w
                res.completions.append(Retirement(cycle=T + COMPLETION_DELAY, tag=row["request"],
                                                  finish=self.now(T), finish_cycle=T))
                last = table.pop()
                if w < len(table):
                    table[w] = last
                k = T + RETIRE_DELAY
                state = "SCAN" if table else "IDLE"
            else:
                if self.policy.gamma:
                    inv = img.layer_entry(m, p, layer)["inv_nnz"]
                    meas = (min(lat % cfg.time_mod, F.NNZ.max_int) if cfg.predictor == "busy"
                            else nnz & F.NNZ.max_int)   # busy: the cycles it measured
                    g, s, cnt = predict(cfg.predictor, row["gamma"], row["gamma_sum"],
                                        row["count"], meas, inv, self.recip)
                    row.update(gamma=g, gamma_sum=s, count=cnt)
                done = self.now(T)
                row.update(layer=nl, last_run=done,
                           vstart=(row["vstart"] + done - t) & mask)
                k = T + self.resume_delay
                state = "SCAN"
        res.end_cycle = k
        return res


# ---- policy adapter for the event-driven reference framework ---------------------------------
class BitExactPolicy(Policy):
    """A hardware policy's fixed-point decision as a :mod:`sw_scheduler.reference` policy.

    Same keys as the RTL (:mod:`sw_scheduler.hw_policies` on the LUT words, the predictor's
    gamma, the stamps the table keeps) and the same tie-break (lowest key, then lowest
    task-table slot, with the table's append / move-last-into-freed-slot order); decisions
    take zero time as the reference framework defines them (the cycle timing of the
    hardware is :class:`BitExactScheduler`'s business). Asked in the same state as a float
    policy it tells where fixed point alone changes a decision. Stamps: ``arrival`` = the
    request's arrival (the hardware accepts it then unless the table is full), ``vstart``
    = arrival + cycles it ran, ``last_run`` as the framework keeps it.

    Parameters
    ----------
    tables : StaticTables
    policy : str
        A :data:`~sw_scheduler.hw_policies.HW_POLICIES` name.
    images : LutImages or None
        LUT contents; default ``tables.to_lut_images()`` (warns on saturation).
    gamma_mode : ``"mean"``, ``"last"`` or ``"busy"`` (then ``images`` must hold INV_BUSY:
        default ``tables.to_lut_images(inv_field="busy")``)
    time_width, score_width : int
    """

    def __init__(self, tables, policy: str = "dysta", *, images=None,
                 gamma_mode: str = "mean", time_width: int = F.TIME_WIDTH,
                 score_width: int = F.SCORE_WIDTH):
        super().__init__(tables, gamma_mode=gamma_mode)
        self.hw = hw_policy(policy)
        self.name = f"{policy}-bitexact"
        self.images = images if images is not None else tables.to_lut_images(
            inv_field=F.inv_field(gamma_mode))
        self.time_width, self.score_width = time_width, score_width
        self.beta = self.images.beta
        self.recip = F.recip_table(self.images.layout.max_layers + 1)
        self.slots: list[int] = []          # tags in task-table order
        self.state: dict[int, list[int]] = {}   # tag -> [gamma, gamma_sum, count, vstart]
        self._decided = 0                   # time of the last decision (zero-time runs)

    def _ids(self, r):
        return self.tables.model_id(r.model), self.tables.pattern_id(r.pattern)

    def on_arrival(self, now, r):
        self.slots.append(r.tag)
        self.state[r.tag] = [GAMMA_ONE, 0, 0, r.arrival]

    def fixed_key(self, now, r, n_active) -> int:
        mi, pi = self._ids(r)
        mask = (1 << self.time_width) - 1
        lay = self.images.layout
        st = self.state[r.tag]
        row = {"deadline": r.deadline & mask, "last_run": r.last_run & mask,
               "arrival": r.arrival & mask, "vstart": st[3] & mask, "gamma": st[0],
               "priority": F.PRIORITY_LEVELS.index(r.priority)}
        return self.hw.key(
            t=now & mask, row=row, var=self.images.variant_entry(mi, pi),
            lay=self.images.layer_entry(mi, pi, r.layer),
            nxt=self.images.layer_entry(mi, pi, (r.layer + 1) % lay.max_layers),
            recip_n=F.RECIP.quantize(1.0 / n_active)[0], beta=self.beta,
            kappa=self.images.kappa_cycles, time_width=self.time_width,
            score_width=self.score_width)

    def select(self, now, active):
        n = len(active)
        pos = {tag: i for i, tag in enumerate(self.slots)}
        self._decided = now
        return min(active, key=lambda r: (self.fixed_key(now, r, n), pos[r.tag]))

    def on_layer_done(self, now, r, layer, nnz):
        st = self.state[r.tag]          # (the float r.gamma is the framework's, not ours)
        ran = now - self._decided                   # the layer's cycles (zero-time decisions)
        st[3] += ran                                # PREMA: waiting excludes running
        if self.hw.gamma:
            mi, pi = self._ids(r)
            inv = self.images.layer_entry(mi, pi, layer)["inv_nnz"]
            if st[2] + 1 >= len(self.recip):
                self.recip = F.recip_table(st[2] + 2)
            meas = ran if self.gamma_mode == "busy" else nnz
            st[:3] = predict(self.gamma_mode, *st[:3], min(meas, F.NNZ.max_int), inv,
                             self.recip)
        if r.layer >= r.n_layers:
            i = self.slots.index(r.tag)
            last = self.slots.pop()
            if i < len(self.slots):
                self.slots[i] = last
            del self.state[r.tag]


class DystaBitExactPolicy(BitExactPolicy):
    """:class:`BitExactPolicy` of the Dysta hardware policy (``dysta-bitexact``)."""

    def __init__(self, tables, **kw):
        super().__init__(tables, "dysta", **kw)

    def fixed_score(self, now, r, n_active) -> int:
        return self.fixed_key(now, r, n_active)

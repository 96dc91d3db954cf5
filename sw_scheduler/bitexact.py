"""Bit-exact model of the Dysta hardware scheduler (``rtl/scheduler``): arithmetic and timing.

Given the same stimulus (request offers at cycles, NPU latency and non-zero count per
command) :class:`BitExactScheduler` produces the same decisions (slot, cycle), the same
accepts and the same completions as the RTL. Cycles are absolute (0 = first cycle after
reset); the hardware counter reads ``(counter_init + cycle) mod 2**time_width``.

Timing contract (see ``docs/scheduler_rtl.md``), with ``n`` active requests:

* a request is accepted in the first cycle ``>=`` its offer cycle (and after the previous
  accept) in which the scheduler is IDLE (table empty) or RUN (a layer in flight) and the
  table is not full; it is appended at slot ``n`` with ``last_run`` = counter at accept;
* IDLE + accept at ``a`` -> SCAN starts at ``a + 1``; a SCAN starting at ``c`` scores all
  ``n`` entries with ``t`` = counter at ``c`` and issues the command at
  ``c + n + SCAN_OVERHEAD`` (the NPU is assumed ready: handshake in that cycle);
* the NPU response is accepted at ``T = cmd + latency`` (latency >= 1); the next SCAN
  starts at ``T + RESUME_DELAY`` and scores the entry already updated (the predictor
  pipeline runs under the SCAN); if that was the last layer (no predictor update), the
  completion (finish = counter at ``T``) goes out at ``T + 2`` (RET; the host is assumed
  ready), the last table entry moves into the freed slot and the next SCAN (or IDLE, if
  empty) starts at ``T + 3``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from . import formats as F

__all__ = [
    "PRED_LATENCY",
    "RESUME_DELAY",
    "SCAN_OVERHEAD",
    "SCORE_LATENCY",
    "BitExactScheduler",
    "Completion",
    "Decision",
    "DystaBitExactPolicy",
    "Request",
    "predict",
    "ratio_code",
    "score",
]

# Pipeline depths of the RTL (rtl.scheduler imports these; the single definition):
SCORE_LATENCY = 6                  # ScoreUnit stages (input -> score)
SCAN_OVERHEAD = SCORE_LATENCY + 2  # SCAN cycles besides one per active slot (+ table, LUT read)
PRED_LATENCY = 3                   # Predictor stages (stable inputs -> updated gamma)
RESUME_DELAY = 2                   # npu_resp handshake T -> next SCAN (non-final layer)
_RATIO_SHIFT = F.INV_NNZ.frac - F.GAMMA.frac
GAMMA_ONE = 1 << F.GAMMA.frac


def ratio_code(nnz: int, inv_nnz: int) -> int:
    """GAMMA code of ``measured_nnz / mean_nnz``, saturated."""
    return min((nnz * inv_nnz) >> _RATIO_SHIFT, F.GAMMA.max_int)


def predict(variant: str, gamma: int, gamma_sum: int, count: int, nnz: int, inv_nnz: int,
            recip: list[int]) -> tuple[int, int, int]:
    """Predictor update after one layer; returns ``(gamma, gamma_sum, count)``.

    ``inv_nnz == 0`` (layer without mean non-zeros) leaves the state unchanged.
    ``recip[count + 1]`` must exist (``count + 1 <= max_layers``).
    """
    if inv_nnz == 0:
        return gamma, gamma_sum, count
    r = ratio_code(nnz, inv_nnz)
    if variant == "last":
        return r, gamma_sum, count
    s = min(gamma_sum + r, F.GAMMA_SUM.max_int)
    c = count + 1
    g = min((s * recip[c]) >> F.RECIP.frac, F.GAMMA.max_int)
    return g, s, c


def score(*, t: int, deadline: int, last_run: int, gamma: int, rem_lut: int, kinv_iso: int,
          recip_n: int, beta: int, time_width: int, score_width: int) -> int:
    """The Dysta score of :mod:`sw_scheduler.formats` in the hardware's fixed point."""
    tmax = (1 << time_width) - 1
    smax = (1 << score_width) - 1
    rem = min((gamma * rem_lut) >> F.GAMMA.frac, F.REM.max_int)
    dt = F.time_diff(deadline, t, time_width)
    urg = min(max(dt - rem, 0), tmax)
    wait = max(F.time_diff(t, last_run, time_width), 0)
    pen = min((wait * kinv_iso) >> F.KINV_ISO.frac, smax)
    pen = min((pen * recip_n) >> F.RECIP.frac, smax)
    return min(rem + ((beta * (urg + pen)) >> F.BETA.frac), smax)


@dataclass(frozen=True)
class Request:
    """A request offered to the scheduler from absolute cycle ``cycle`` on (in list order)."""

    cycle: int
    tag: int
    model: int
    pattern: int
    deadline: int       # counter value (mod 2**time_width)
    priority: int = 0


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
class Completion:
    cycle: int          # absolute cycle of the completion handshake
    tag: int
    finish: int         # counter value of the last layer-done (the payload)
    finish_cycle: int   # the same as an absolute cycle


@dataclass
class Result:
    accepts: list = field(default_factory=list)       # (tag, absolute cycle)
    decisions: list = field(default_factory=list)     # Decision
    completions: list = field(default_factory=list)   # Completion
    end_cycle: int = 0


class BitExactScheduler:
    """Event-driven, cycle-exact model of the RTL scheduler.

    Parameters
    ----------
    config : rtl.scheduler.layouts.SchedulerConfig
    images : LutImages
        LUT contents (same layout as ``config.lut``).
    """

    def __init__(self, config, images):
        if images.layout != config.lut:
            raise ValueError(f"images layout {images.layout} differs from config {config.lut}")
        self.cfg = config
        self.images = images
        self.recip = F.recip_table(config.recip_depth)

    def now(self, cycle: int) -> int:
        return (self.cfg.counter_init + cycle) % self.cfg.time_mod

    def _scores(self, table: list[dict], t: int) -> list[int]:
        cfg, img = self.cfg, self.images
        recip_n = self.recip[len(table)]
        out = []
        for row in table:
            var = img.variant_entry(row["model"], row["pattern"])
            lay = img.layer_entry(row["model"], row["pattern"], row["layer"])
            out.append(score(t=t, deadline=row["deadline"], last_run=row["last_run"],
                             gamma=row["gamma"], rem_lut=lay["rem"],
                             kinv_iso=var["kinv_iso"], recip_n=recip_n, beta=cfg.beta,
                             time_width=cfg.time_width, score_width=cfg.score_width))
        return out

    def run(self, requests, npu, *, max_decisions: int | None = None) -> Result:
        """Simulate until every request has completed.

        Parameters
        ----------
        requests : iterable of Request
            Offered in this order (each no earlier than its ``cycle``).
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
            for name, width in (("tag", F.TAG_WIDTH), ("model", cfg.lut.model_bits),
                                ("pattern", cfg.lut.pattern_bits)):
                if not 0 <= getattr(r, name) < 1 << width:
                    raise ValueError(f"request {r}: {name} outside {width} bits")
            table.append({"tag": r.tag, "model": r.model, "pattern": r.pattern,
                              "priority": r.priority, "deadline": r.deadline & mask,
                              "last_run": self.now(a), "layer": 0, "gamma": GAMMA_ONE,
                              "gamma_sum": 0, "count": 0})
            last_accept = a
            res.accepts.append((r.tag, a))

        k = 0          # current cycle
        state = "IDLE"
        while True:
            if state == "IDLE":
                if not pending:
                    break
                a = max(pending[0].cycle, last_accept + 1, k)
                accept(a)
                k, state = a + 1, "SCAN"
                continue
            # SCAN starting at k
            n = len(table)
            t = self.now(k)
            sc = self._scores(table, t)
            w = min(range(n), key=lambda i: (sc[i], i))
            row = table[w]
            c = k + n + SCAN_OVERHEAD
            d = Decision(cycle=c, slot=w, tag=row["tag"], model=row["model"],
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
                a = max(pending[0].cycle, last_accept + 1, lo)
                if a > T:
                    break
                accept(a)
            # predictor update (applied before the next SCAN scores the entry)
            m, p, layer = row["model"], row["pattern"], row["layer"]
            inv = img.layer_entry(m, p, layer)["inv_nnz"]
            g, s, cnt = predict(cfg.predictor, row["gamma"], row["gamma_sum"], row["count"],
                                nnz & F.NNZ.max_int, inv, self.recip)
            nl = layer + 1
            n_layers = img.variant_entry(m, p)["n_layers"]
            if nl >= n_layers or nl >= cfg.lut.max_layers:
                # MOVE at T+1, RET at T+2: completion, last entry moves into slot w
                res.completions.append(Completion(cycle=T + 2, tag=row["tag"],
                                                  finish=self.now(T), finish_cycle=T))
                last = table.pop()
                if w < len(table):
                    table[w] = last
                k = T + 3
                state = "SCAN" if table else "IDLE"
            else:
                row.update(gamma=g, gamma_sum=s, count=cnt, layer=nl, last_run=self.now(T))
                k = T + RESUME_DELAY
                state = "SCAN"
        res.end_cycle = k
        return res


# ---- policy adapter for the event-driven reference framework ---------------------------------
def _policy_base():
    from .reference.core import Policy
    return Policy


class DystaBitExactPolicy(_policy_base()):
    """The hardware's fixed-point Dysta decision as a :mod:`sw_scheduler.reference` policy.

    Same arithmetic as the RTL (:func:`score`, :func:`predict` on the LUT words) and the
    same tie-break (lowest score, then lowest task-table slot, with the table's
    append / move-last-into-freed-slot order); decisions take zero time as the reference
    framework defines them (the cycle timing of the hardware is
    :class:`BitExactScheduler`'s business).

    Parameters
    ----------
    tables : StaticTables
    images : LutImages or None
        LUT contents; default ``tables.to_lut_images()`` (warns on saturation).
    gamma_mode : ``"mean"`` or ``"last"``
    time_width, score_width : int
    """

    name = "dysta-bitexact"

    def __init__(self, tables, *, images=None, gamma_mode: str = "mean",
                 time_width: int = F.TIME_WIDTH, score_width: int = F.SCORE_WIDTH):
        super().__init__(tables, gamma_mode=gamma_mode)
        self.images = images if images is not None else tables.to_lut_images()
        self.time_width, self.score_width = time_width, score_width
        self.beta = self.images.beta
        self.recip = F.recip_table(self.images.layout.max_layers + 1)
        self.slots: list[int] = []          # tags in task-table order
        self.state: dict[int, list[int]] = {}   # tag -> [gamma, gamma_sum, count]

    def _ids(self, r):
        return self.tables.model_id(r.model), self.tables.pattern_id(r.pattern)

    def on_arrival(self, now, r):
        self.slots.append(r.tag)
        self.state[r.tag] = [GAMMA_ONE, 0, 0]

    def fixed_score(self, now, r, n_active) -> int:
        mi, pi = self._ids(r)
        mask = (1 << self.time_width) - 1
        var = self.images.variant_entry(mi, pi)
        lay = self.images.layer_entry(mi, pi, r.layer)
        recip_n = F.RECIP.quantize(1.0 / n_active)[0]
        return score(t=now & mask, deadline=r.deadline & mask, last_run=r.last_run & mask,
                     gamma=self.state[r.tag][0], rem_lut=lay["rem"],
                     kinv_iso=var["kinv_iso"], recip_n=recip_n, beta=self.beta,
                     time_width=self.time_width, score_width=self.score_width)

    def select(self, now, active):
        n = len(active)
        pos = {tag: i for i, tag in enumerate(self.slots)}
        return min(active, key=lambda r: (self.fixed_score(now, r, n), pos[r.tag]))

    def on_layer_done(self, now, r, layer, nnz):
        super().on_layer_done(now, r, layer, nnz)
        mi, pi = self._ids(r)
        st = self.state[r.tag]
        inv = self.images.layer_entry(mi, pi, layer)["inv_nnz"]
        if st[2] + 1 >= len(self.recip):
            self.recip = F.recip_table(st[2] + 2)
        self.state[r.tag] = list(predict(self.gamma_mode, *st, min(nnz, F.NNZ.max_int), inv,
                                         self.recip))
        if r.layer >= r.n_layers:
            i = self.slots.index(r.tag)
            last = self.slots.pop()
            if i < len(self.slots):
                self.slots[i] = last
            del self.state[r.tag]

"""Hardware scheduling policies, bit-exact half of the policy seam.

A hardware policy is one vertical slice: a key in the hardware's fixed point here, a score
unit with the same arithmetic in ``rtl/scheduler/policies.py`` (same name), its float
reference in :mod:`sw_scheduler.reference` (same name), and tests. The scheduler (RTL and
:class:`~sw_scheduler.bitexact.BitExactScheduler`) is the same for every policy: task
table, LUTs, FSM and a lowest-key-wins argmin (ties: lowest slot). What a policy adds:
its key (:attr:`HwPolicy.key`, :meth:`HwPolicy.key_width`), the row fields it reads
(:attr:`HwPolicy.row_fields`: the task table stores only those), whether it needs the
predictor (``gamma``) and the LAYER word of the layer after the next (``next_layer``), and
its score unit's depth (:data:`sw_scheduler.timing.SCORE_LATENCIES`).
``SchedulerConfig.policy`` names the policy; nothing else changes when one is added.

A key sees, for one task-table entry at decision time ``t`` (counter value): the entry
(``row``), its VARIANT LUT word (``var``: n_layers, kinv_iso), its LAYER LUT word at the
entry's next layer (``lay``: rem, inv_nnz) and, for ``next_layer`` policies, at the layer
after (``nxt``), ``RECIP[n_active]`` (``recip_n``) and the parameters ``beta`` (run-time
register), ``kappa`` (build constant, cycles) and the widths ``time_width``/``score_width``.

Keys that order by more than one quantity concatenate them, most significant first; a
tie on everything left goes to the lowest slot. Orders in time are wrap-safe: with
``W = time_width``, :func:`deadline_key` (earlier deadline = smaller) and
:func:`older_key` (earlier stamp = smaller) hold for stamps within ``2**(W-1)`` cycles of
``t`` (the scheduler's horizon, docs/scheduler_rtl.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import formats as F
from .timing import SCORE_LATENCIES

__all__ = ["DIV_FRAC", "DIV_INDEX_BITS", "HW_POLICIES", "SDRM3_WIDTH", "HwPolicy",
           "deadline_key", "div_table", "dysta_score", "gamma_rem", "hw_policy",
           "older_key", "qdiv"]

REM_W = F.REM.width


# ---- shared fixed-point pieces ----------------------------------------------------------------
def gamma_rem(gamma: int, rem: int) -> int:
    """``gamma * REM`` in cycles (GAMMA has 12 fraction bits), saturated to REM."""
    return min((gamma * rem) >> F.GAMMA.frac, F.REM.max_int)


def deadline_key(t: int, deadline: int, time_width: int) -> int:
    """``deadline - t`` (signed, wrap-safe) offset to ``0 .. 2**W - 1``: earlier is smaller."""
    return F.time_diff(deadline, t, time_width) + (1 << (time_width - 1))


def age(t: int, stamp: int, time_width: int) -> int:
    """Cycles since ``stamp``, ``0 .. 2**(W-1) - 1`` (a stamp 'in the future' counts 0)."""
    return max(F.time_diff(t, stamp, time_width), 0)


def older_key(t: int, stamp: int, time_width: int) -> int:
    """``W - 1``-bit key: the earlier ``stamp`` is smaller (FCFS order, tie-breaks)."""
    return ((1 << (time_width - 1)) - 1) - age(t, stamp, time_width)


# ---- division through a reciprocal table (SDRM3) ----------------------------------------------
DIV_INDEX_BITS = 10      # mantissa bits after the leading one that address the table
DIV_FRAC = 16            # quotients are UQ.16
_DIV_P = DIV_FRAC + 1    # table entries are round(2**17 / mantissa), mantissa in [1, 2)
SDRM3_WIDTH = 40         # urgency + fairness, UQ24.16, saturating


def div_table() -> list[int]:
    """``2**DIV_INDEX_BITS`` reciprocal entries (18 bits): ``round(2**17 / (1 + i/2**K))``."""
    k = DIV_INDEX_BITS
    return [round((1 << _DIV_P) * (1 << k) / ((1 << k) + i)) for i in range(1 << k)]


_DIV_TABLE = div_table()


def qdiv(a: int, b: int, width: int) -> int:
    """``a / b`` in UQ.16, saturated to ``width`` bits; ``a >= 0``, ``b >= 1``.

    ``b = 2**e * m`` with ``m`` in [1, 2); ``m`` truncated to ``DIV_INDEX_BITS`` fraction
    bits addresses :func:`div_table`; ``q = (a * table) >> (e + 1)``. ``q`` is at most
    ``2**-DIV_INDEX_BITS`` above ``a * 2**16 / b`` (the mantissa's truncation) and at most
    one unit plus ``2**-17`` below it (the table's rounding, the final truncation).
    """
    e = b.bit_length() - 1
    idx = ((b << DIV_INDEX_BITS) >> e) & ((1 << DIV_INDEX_BITS) - 1)
    return min((a * _DIV_TABLE[idx]) >> (e + 1), (1 << width) - 1)


# ---- the policies' keys -----------------------------------------------------------------------
def dysta_score(*, t: int, row, var, lay, recip_n: int, beta: int, time_width: int,
                score_width: int, **_) -> int:
    """The Dysta score (``docs/design.md``) in the hardware's fixed point.

    ``rem = gamma * REM``, ``urgency = clamp(deadline - t - rem)``,
    ``penalty = (t - last_run) * KINV_ISO * RECIP[n]``,
    ``score = rem + beta * (urgency + penalty)``, every step saturated as the RTL does.
    """
    tmax = (1 << time_width) - 1
    smax = (1 << score_width) - 1
    rem = gamma_rem(row["gamma"], lay["rem"])
    dt = F.time_diff(row["deadline"], t, time_width)
    urg = min(max(dt - rem, 0), tmax)
    wait = age(t, row["last_run"], time_width)
    pen = min((wait * var["kinv_iso"]) >> F.KINV_ISO.frac, smax)
    pen = min((pen * recip_n) >> F.RECIP.frac, smax)
    return min(rem + ((beta * (urg + pen)) >> F.BETA.frac), smax)


def fcfs_key(*, t, row, time_width, **_) -> int:
    """Earliest acceptance first."""
    return older_key(t, row["arrival"], time_width)


def edf_key(*, t, row, time_width, **_) -> int:
    """Earliest deadline first."""
    return deadline_key(t, row["deadline"], time_width)


def _sjf(sparse: bool):
    def key(*, t, row, lay, time_width, **_) -> int:
        est = gamma_rem(row["gamma"], lay["rem"]) if sparse else lay["rem"]
        return (est << time_width) | deadline_key(t, row["deadline"], time_width)
    key.__doc__ = ("Shortest estimated remaining (REM" + (" * gamma" if sparse else "")
                   + ") first; ties: earliest deadline.")
    return key


def prema_level(wait: int, kinv_iso: int, priority: int, kappa: int) -> int:
    """PREMA token level 0/1/2 (token >= 1/3/9) of a request of priority index ``priority``.

    ``token = PRIORITY_LEVELS[priority] * (1 + wait / iso)``; with ``x = wait * KINV_ISO
    >> 16 = kappa * wait / iso`` the thresholds are ``x >= 2 kappa`` (3 -> 9 and 1 -> 3)
    and ``x >= 8 kappa`` (1 -> 9); the priority 9 is always at the top level.
    """
    if priority >= 2:
        return 2
    p = wait * kinv_iso
    lo, hi = (2 * kappa) << F.KINV_ISO.frac, (8 * kappa) << F.KINV_ISO.frac
    if priority == 1:
        return 2 if p >= lo else 1
    return 2 if p >= hi else 1 if p >= lo else 0


def _prema(sparse: bool):
    def key(*, t, row, var, lay, time_width, kappa, **_) -> int:
        w1 = time_width - 1
        level = prema_level(age(t, row["vstart"], time_width), var["kinv_iso"],
                            row["priority"], kappa)
        est = gamma_rem(row["gamma"], lay["rem"]) if sparse else lay["rem"]
        return ((2 - level) << (REM_W + w1)) | (est << w1) | older_key(t, row["arrival"],
                                                                        time_width)
    key.__doc__ = ("PREMA: highest token level, then shortest REM" + (" * gamma" if sparse
                   else "") + ", then earliest acceptance.")
    return key


def planaria_key(*, t, row, lay, time_width, **_) -> int:
    """Highest ``priority / max(slack, 1)`` = lowest ``max(slack, 1) * 9 / priority``
    (exact: 9, 3 or 1 times the slack), ``slack = deadline - t - REM``; ties: earliest
    acceptance."""
    slack = max(F.time_diff(row["deadline"], t, time_width) - lay["rem"], 1)
    mult = (9, 3, 1)[row["priority"]]
    return ((slack * mult) << (time_width - 1)) | older_key(t, row["arrival"], time_width)


def _sdrm3(sparse: bool):
    def key(*, t, row, lay, nxt, time_width, **_) -> int:
        smax = (1 << SDRM3_WIDTH) - 1
        one = 1 << DIV_FRAC
        g = row["gamma"] if sparse else None
        rem = gamma_rem(g, lay["rem"]) if sparse else lay["rem"]
        step = lay["rem"] - nxt["rem"]                   # mean cycles of the next layer
        if sparse and step > 0:
            step = gamma_rem(g, step)
        step = max(step, 1)
        left = F.time_diff(row["deadline"], t, time_width)
        urg = one if left <= 0 else min(qdiv(rem, left, DIV_FRAC + 1), one)
        fair = qdiv(age(t, row["last_run"], time_width), step, SDRM3_WIDTH)
        s = min(urg + fair, smax)
        return ((smax - s) << (time_width - 1)) | older_key(t, row["arrival"], time_width)
    key.__doc__ = ("SDRM3: highest urgency + fairness (alpha = 1), urgency = min(1, REM / "
                   "(deadline - t)), fairness = (t - last_run) / next-layer cycles, both by "
                   "reciprocal table (:func:`qdiv`)" + (", REM and next scaled by gamma"
                   if sparse else "") + "; ties: earliest acceptance.")
    return key


@dataclass(frozen=True)
class HwPolicy:
    """One hardware policy's bit-exact half (see the module docstring).

    ``key(**kw) -> int`` (lowest wins); ``width(time_width, score_width) -> int`` its width;
    ``row_fields``: optional task-table fields it reads or updates (``arrival``,
    ``vstart``, ``deadline``, ``last_run``, ``priority``; ``gamma`` adds gamma, gamma_sum,
    count and the predictor); ``next_layer``: reads the LAYER word at ``layer + 1``.
    """

    name: str
    key: Callable[..., int]
    width: Callable[[int, int], int]
    row_fields: frozenset = frozenset()
    next_layer: bool = False
    doc: str = ""

    @property
    def gamma(self) -> bool:
        return "gamma" in self.row_fields

    @property
    def score_latency(self) -> int:
        return SCORE_LATENCIES[self.name]

    def key_width(self, time_width: int, score_width: int) -> int:
        return self.width(time_width, score_width)


def _policy(name, key, width, fields, *, next_layer=False, doc=None):
    return HwPolicy(name, key, width, frozenset(fields), next_layer, doc or key.__doc__)


_T = ("deadline",)
HW_POLICIES: dict[str, HwPolicy] = {p.name: p for p in (
    _policy("fcfs", fcfs_key, lambda tw, sw: tw - 1, ("arrival",)),
    _policy("edf", edf_key, lambda tw, sw: tw, _T),
    _policy("sjf", _sjf(False), lambda tw, sw: REM_W + tw, _T),
    _policy("sjf-sparse", _sjf(True), lambda tw, sw: REM_W + tw, (*_T, "gamma")),
    _policy("prema", _prema(False), lambda tw, sw: 2 + REM_W + tw - 1,
            ("arrival", "vstart", "priority")),
    _policy("prema-sparse", _prema(True), lambda tw, sw: 2 + REM_W + tw - 1,
            ("arrival", "vstart", "priority", "gamma")),
    _policy("planaria", planaria_key, lambda tw, sw: 2 * tw + 2,
            ("arrival", "deadline", "priority")),
    _policy("sdrm3", _sdrm3(False), lambda tw, sw: SDRM3_WIDTH + tw - 1,
            ("arrival", "deadline", "last_run"), next_layer=True),
    _policy("sdrm3-sparse", _sdrm3(True), lambda tw, sw: SDRM3_WIDTH + tw - 1,
            ("arrival", "deadline", "last_run", "gamma"), next_layer=True),
    _policy("dysta", dysta_score, lambda tw, sw: sw, ("deadline", "last_run", "gamma"),
            doc="Sparse-DySta: gamma-corrected remaining latency + beta * (urgency + "
                "starvation penalty)"),
)}


def hw_policy(name: str) -> HwPolicy:
    """The registered hardware policy ``name`` (ValueError listing the known ones)."""
    try:
        return HW_POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown hardware policy {name!r} "
                         f"(known: {', '.join(HW_POLICIES)})") from None

"""Hardware scheduling policies, bit-exact half of the policy seam.

A hardware policy is one vertical slice: a score in the hardware's fixed point here, a
score unit with the same arithmetic in ``rtl/scheduler/policies.py`` (same key), its float
reference in :mod:`sw_scheduler.reference`, and tests. The scheduler (RTL and
:class:`~sw_scheduler.bitexact.BitExactScheduler`) is the same for every policy: task
table, LUTs, predictor, a ``SCORE_LATENCY``-stage score pipeline and a lowest-score-wins
argmin (ties: lowest slot). ``SchedulerConfig.policy`` names the policy; nothing else
changes when one is added.

A score sees, for one task-table entry at decision time ``t`` (counter value): the entry
(``row``: tag, model, pattern, priority index, deadline, last_run, layer, gamma, ...), its
VARIANT LUT word (``var``: n_layers, kinv_iso), its LAYER LUT word at the entry's next
layer (``lay``: rem, inv_nnz), ``RECIP[n_active]`` and the build constants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import formats as F

__all__ = ["HW_POLICIES", "HwPolicy", "dysta_score", "hw_policy"]


def dysta_score(*, t: int, row, var, lay, recip_n: int, beta: int, time_width: int,
                score_width: int) -> int:
    """The Dysta score (``docs/design.md``) in the hardware's fixed point.

    ``rem = gamma * REM``, ``urgency = clamp(deadline - t - rem)``,
    ``penalty = (t - last_run) * KINV_ISO * RECIP[n]``,
    ``score = rem + beta * (urgency + penalty)``, every step saturated as the RTL does.
    """
    tmax = (1 << time_width) - 1
    smax = (1 << score_width) - 1
    rem = min((row["gamma"] * lay["rem"]) >> F.GAMMA.frac, F.REM.max_int)
    dt = F.time_diff(row["deadline"], t, time_width)
    urg = min(max(dt - rem, 0), tmax)
    wait = max(F.time_diff(t, row["last_run"], time_width), 0)
    pen = min((wait * var["kinv_iso"]) >> F.KINV_ISO.frac, smax)
    pen = min((pen * recip_n) >> F.RECIP.frac, smax)
    return min(rem + ((beta * (urg + pen)) >> F.BETA.frac), smax)


@dataclass(frozen=True)
class HwPolicy:
    """One hardware policy's bit-exact score (see the module docstring)."""

    name: str
    score: Callable[..., int]
    doc: str = ""


HW_POLICIES: dict[str, HwPolicy] = {
    "dysta": HwPolicy("dysta", dysta_score, "Sparse-DySta: gamma-corrected remaining "
                      "latency + beta * (urgency + starvation penalty)"),
}


def hw_policy(name: str) -> HwPolicy:
    """The registered hardware policy ``name`` (ValueError listing the known ones)."""
    try:
        return HW_POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown hardware policy {name!r} "
                         f"(known: {', '.join(HW_POLICIES)})") from None

"""Multi-DNN scheduling metrics of one run (a list of completions).

Per request ``i``: turnaround ``T_i = finish_i - arrival_i`` (cycles), normalised
turnaround ``NTT_i = T_i / iso_i`` where ``iso_i`` is the true isolated cycles of that
request's sample.

* ``violation_rate``: fraction of requests with ``finish > deadline``.
* ``antt``: mean ``NTT_i``.
* ``stp``: system throughput as the multi-tenant literature defines it (Eyerman &
  Eeckhout; PREMA): the sum of the requests' normalised progress ``sum_i iso_i / T_i``
  (higher is better; on one request stream it ranks schedulers, unlike a request rate).
* ``throughput``: completed requests per second, ``n / ((max finish - min arrival) /
  clock_hz)`` -- what the paper's artifact calls STP; in steady state it equals the
  arrival rate for every scheduler.
* ``p50``/``p99``: turnaround percentiles in milliseconds (numpy linear interpolation);
  ``p50_cycles``/``p99_cycles`` the same in cycles.
* ``fairness``: Jain's index of the normalised progress ``x_i = 1 / NTT_i``:
  ``(sum x)^2 / (n * sum x^2)``, in ``(0, 1]``, 1 = perfectly fair.
"""

from __future__ import annotations

import numpy as np

__all__ = ["METRIC_KEYS", "breakdown", "compute_metrics", "jain"]

METRIC_KEYS = ("violation_rate", "antt", "stp", "throughput", "p50", "p99", "fairness")


def jain(x) -> float:
    """Jain's fairness index of a non-empty vector of non-negative values."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        raise ValueError("jain: empty input")
    s2 = float((x * x).sum())
    return float(x.sum() ** 2 / (x.size * s2)) if s2 > 0 else 1.0


def compute_metrics(completions, clock_hz: int) -> dict:
    """Metrics (module docstring) of ``completions`` (objects with ``arrival, deadline,
    finish, iso``)."""
    if not completions:
        raise ValueError("compute_metrics: no completions")
    if clock_hz <= 0:
        raise ValueError(f"compute_metrics: clock_hz must be positive, got {clock_hz!r}")
    arr = np.array([c.arrival for c in completions], dtype=float)
    fin = np.array([c.finish for c in completions], dtype=float)
    ddl = np.array([c.deadline for c in completions], dtype=float)
    iso = np.array([c.iso for c in completions], dtype=float)
    if (iso <= 0).any():
        raise ValueError("compute_metrics: isolated latency must be positive")
    tat = fin - arr
    ntt = tat / iso
    span = (fin.max() - arr.min()) / clock_hz
    p50, p99 = np.percentile(tat, [50, 99])
    return {
        "n": len(completions),
        "violation_rate": float((fin > ddl).mean()),
        "antt": float(ntt.mean()),
        "stp": float((1.0 / ntt).sum()),
        "throughput": float(len(completions) / span) if span > 0 else float("inf"),
        "p50": float(p50 / clock_hz * 1e3),
        "p99": float(p99 / clock_hz * 1e3),
        "p50_cycles": float(p50),
        "p99_cycles": float(p99),
        "fairness": jain(1.0 / ntt),
        "makespan_cycles": float(fin.max() - arr.min()),
    }


def breakdown(completions, clock_hz: int, key: str) -> dict:
    """:func:`compute_metrics` per value of ``key`` (``"model"`` or ``"priority"``)."""
    groups: dict = {}
    for c in completions:
        groups.setdefault(str(getattr(c, key)), []).append(c)
    return {k: compute_metrics(v, clock_hz) for k, v in sorted(groups.items())}

"""Sweep summary: per point without the seed, mean / std / 95 % CI of every metric.

Rows group the point documents that differ only in ``seed`` (grid order kept). Columns:
the axes (``workload, sched, load, rate, slo, n, slots, lanes, backend`` and any other),
``n_seeds``, ``seeds``, then ``<metric>_mean``, ``<metric>_std``, ``<metric>_ci95`` for
each metric of :data:`sim.metrics.METRIC_KEYS` (``ci95``: half width of the Student-t
interval, :func:`sim.stats.mean_std_ci`; NaN with one seed). With a ``load`` axis the
``rate`` column is the rate that load maps to, with a ``rate`` axis ``load`` is the
load that rate is; both from :meth:`sim.workload.Workload.capacity_rate`.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

from .metrics import METRIC_KEYS
from .stats import mean_std_ci

__all__ = ["STATS", "summarize", "write_summary"]

STATS = ("mean", "std", "ci95")
_FIXED = ("workload", "sched", "load", "rate", "slo", "n", "slots", "lanes", "backend")


def _axes(docs) -> list[str]:
    extra = []
    for d in docs:
        extra += [a for a in d["params"] if a not in _FIXED and a != "seed" and a not in extra]
    return [*_FIXED, *extra]


def summarize(docs) -> tuple[list[str], list[dict]]:
    """``(columns, rows)`` of the point documents ``docs`` (see module docstring)."""
    axes = _axes(docs)
    groups: dict = {}
    for d in docs:
        p = d["params"]
        gk = tuple((a, p.get(a)) for a in axes if a not in ("load", "rate") or a in p)
        groups.setdefault(gk, []).append(d)
    rows = []
    for gk, ds in groups.items():
        ds = sorted(ds, key=lambda d: d["params"]["seed"])
        row = {a: v for a, v in gk}
        for a in ("load", "rate"):
            if a not in row:
                row[a] = math.fsum(d[a] for d in ds) / len(ds)
        row = {a: row.get(a) for a in axes}
        row["n_seeds"] = len(ds)
        row["seeds"] = " ".join(str(d["params"]["seed"]) for d in ds)
        for m in METRIC_KEYS:
            mean, std, ci = mean_std_ci([d["metrics"][m] for d in ds])
            row.update({f"{m}_mean": mean, f"{m}_std": std, f"{m}_ci95": ci})
        rows.append(row)
    cols = [*axes, "n_seeds", "seeds", *(f"{m}_{s}" for m in METRIC_KEYS for s in STATS)]
    return cols, rows


def _json_safe(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _write_csv(path: Path, cols, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r[c] for c in cols])


def write_summary(out: Path, docs, *, grid: dict | None = None, plots: bool = True,
                  jobs: int = 1) -> list:
    """Write ``summary.csv``/``.json``, ``points.csv`` and ``plots/`` into ``out``.

    Files of an earlier grid (old plots) are removed first; many figures are drawn on up to
    ``jobs`` local processes. Returns the written paths relative to ``out``.
    """
    out = Path(out)
    shutil.rmtree(out / "plots", ignore_errors=True)
    files = []
    if not docs:
        for f in ("summary.csv", "summary.json", "points.csv"):
            (out / f).unlink(missing_ok=True)
        return files
    cols, rows = summarize(docs)
    _write_csv(out / "summary.csv", cols, rows)
    (out / "summary.json").write_text(json.dumps(
        {"grid": grid, "columns": cols,
         "rows": [{c: _json_safe(r[c]) for c in cols} for r in rows],
         "stats": {"mean": "mean over seeds", "std": "sample standard deviation (n-1)",
                   "ci95": "half width of the Student-t 95 % CI of the mean (mean +- ci95)"}},
        indent=1))
    axes = _axes(docs)
    pcols = [*axes, "seed", "key", *METRIC_KEYS, "p50_cycles", "p99_cycles"]
    prow = []
    for d in docs:
        r = {**d["params"], "key": d["key"], **{m: d["metrics"].get(m) for m in pcols[
            len(axes) + 2:]}}
        r.setdefault("load", d["load"])
        r.setdefault("rate", d["rate"])
        prow.append(r)
    _write_csv(out / "points.csv", pcols, prow)
    files += ["summary.csv", "summary.json", "points.csv"]
    if plots:
        files += [p.relative_to(out).as_posix() for p in _plot(out, rows, docs, axes, jobs)]
    return files


# Panels above which the figures are drawn on local worker processes (~0.1 s per panel
# serially here, against ~1.5 s to start a pool).
PARALLEL_PANELS = 30


def _plot(out: Path, rows, docs, axes, jobs: int) -> list:
    from .plots import plot_figure_ci, sweep_figures

    xaxis = "load" if any("load" in d["params"] for d in docs) else "rate"
    figs = sweep_figures(rows, out / "plots", x_axis=xaxis, metrics=METRIC_KEYS,
                         group_axes=[a for a in axes if a not in ("sched", "load", "rate",
                                                                   "slo")])
    panels = sum(len({r[f[2]] for r in f[0]}) for f in figs)
    if jobs > 1 and panels > PARALLEL_PANELS and len(figs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        from .sweep_exec import _mp_context

        with ProcessPoolExecutor(min(jobs, len(figs)), mp_context=_mp_context()) as ex:
            return list(ex.map(plot_figure_ci, figs))
    return [plot_figure_ci(f) for f in figs]

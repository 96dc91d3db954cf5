"""PNG plots of run results (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plot_figure_ci", "plot_point", "plot_sweep", "plot_sweep_ci", "scheduler_colour",
           "sweep_figures"]


def scheduler_colour(i: int):
    """A distinct colour for the ``i``-th scheduler (tab20, then repeats)."""
    return plt.cm.tab20(i % 20)


def _bars(names, values, ylabel, title, path):
    """One bar per scheduler, each its own colour, value printed on it (a zero shows as
    a marker and '0' rather than an invisible bar)."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 1.5), 3.6))
    colours = [scheduler_colour(i) for i in range(len(names))]
    ax.bar(range(len(names)), values, color=colours, edgecolor="black", linewidth=0.5)
    top = max(values, default=0) or 1.0
    for i, v in enumerate(values):
        if v == 0:
            ax.plot(i, 0, marker="_", markersize=14, color=colours[i], markeredgewidth=2)
        ax.text(i, v + 0.01 * top, f"{v:.3g}", ha="center", va="bottom", fontsize=6)
    ax.set_ylim(0, 1.12 * top)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_point(results: dict, out_dir) -> list[Path]:
    """``violation_rate.png`` and ``antt.png``: one bar per scheduler."""
    out = Path(out_dir)
    s = results["schedulers"]
    names = list(s)
    c = results["config"]
    tag = f"{c['workload']}  rate={c['rate']:g}/s  slo={c['slo']:g}x  n={c['n']}"
    return [
        _bars(names, [100 * s[k]["violation_rate"] for k in names], "SLO violation rate (%)",
              tag, out / "violation_rate.png"),
        _bars(names, [s[k]["antt"] for k in names], "ANTT", tag, out / "antt.png"),
    ]


def _lines(points, x_key, group_key, metric, ylabel, path, title):
    groups = sorted({p[group_key] for p in points})
    fig, axes = plt.subplots(1, len(groups), figsize=(5.0 * len(groups), 3.8), squeeze=False)
    for ax, g in zip(axes[0], groups):
        pts = sorted((p for p in points if p[group_key] == g), key=lambda p: p[x_key])
        xs = [p[x_key] for p in pts]
        for i, name in enumerate(pts[0]["schedulers"]):
            ax.plot(xs, [p["schedulers"][name][metric] * (100 if metric == "violation_rate"
                                                         else 1) for p in pts],
                    marker="osD^v<>"[i % 7], linestyle=("-", "--", ":")[i // 7 % 3],
                    color=scheduler_colour(i), label=name)
        ax.set_xlabel("arrival rate (req/s)" if x_key == "rate" else "SLO multiplier")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}, {group_key}={g:g}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_sweep(points: list[dict], out_dir, workload: str) -> list[Path]:
    """Violation rate vs arrival rate (if several rates) and vs SLO (if several SLOs).

    ``points``: dicts with ``rate``, ``slo`` and ``schedulers`` (name -> metrics).
    """
    out = Path(out_dir)
    paths = []
    if len({p["rate"] for p in points}) > 1:
        paths.append(_lines(points, "rate", "slo", "violation_rate", "SLO violation rate (%)",
                            out / "violation_vs_rate.png", workload))
    if len({p["slo"] for p in points}) > 1:
        paths.append(_lines(points, "slo", "rate", "violation_rate", "SLO violation rate (%)",
                            out / "violation_vs_slo.png", workload))
    return paths


# ---- sweep summaries with confidence bands -------------------------------------------------

_METRIC_LABEL = {"violation_rate": ("SLO violation rate (%)", 100.0), "antt": ("ANTT", 1.0),
                 "stp": ("STP (req/s)", 1.0), "p50": ("p50 turnaround (ms)", 1.0),
                 "p99": ("p99 turnaround (ms)", 1.0), "fairness": ("fairness (Jain)", 1.0)}
_AXIS_LABEL = {"load": "load (fraction of capacity)", "rate": "arrival rate (req/s)",
               "slo": "SLO multiplier"}
_MARKERS = "osD^v<>PXh*p"


def _style(i: int) -> dict:
    """Line style of the i-th scheduler: 10 colours x 12 hollow markers, dashed after 10."""
    return {"color": plt.cm.tab10(i % 10), "marker": _MARKERS[i % len(_MARKERS)],
            "linestyle": "-" if i < 10 else "--", "markerfacecolor": "none",
            "markersize": 5, "linewidth": 1.3, "clip_on": False}


_BOUNDS = {"violation_rate": (0.0, 100.0), "fairness": (0.0, 1.0)}   # else [0, inf)


def _fig_ci(rows, x_key, panel_key, metric, title, path, scheds):
    """One figure: ``metric`` vs ``x_key``, a panel per ``panel_key`` value."""
    label, scale = _METRIC_LABEL.get(metric, (metric, 1.0))
    lo_b, hi_b = _BOUNDS.get(metric, (0.0, math.inf))
    panels = sorted({r[panel_key] for r in rows})
    ncol = min(3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    w, h = 3.9 * ncol + 2.0, 3.0 * nrow      # inches; legend column on the right
    fig, axes = plt.subplots(nrow, ncol, figsize=(w, h), squeeze=False)
    fig.subplots_adjust(left=0.75 / w, right=1 - 2.1 / w, bottom=0.55 / h, top=1 - 0.3 / h,
                        wspace=0.35, hspace=0.3)
    for ax, pv in zip(axes.flat, panels):
        ymin, ymax = math.inf, -math.inf
        for i, s in enumerate(scheds):
            pts = sorted((r for r in rows if r[panel_key] == pv and r["sched"] == s),
                         key=lambda r: r[x_key])
            if not pts:
                continue
            xs = [r[x_key] for r in pts]
            ys = [scale * r[f"{metric}_mean"] for r in pts]
            ci = [scale * r[f"{metric}_ci95"] for r in pts]
            st = _style(i)
            ax.plot(xs, ys, label=s, **st)
            ymin, ymax = min(ymin, *ys), max(ymax, *ys)
            if all(math.isfinite(c) for c in ci):     # band clipped to the metric's range
                band_lo = [max(lo_b, y - c) for y, c in zip(ys, ci)]
                band_hi = [min(hi_b, y + c) for y, c in zip(ys, ci)]
                ax.fill_between(xs, band_lo, band_hi, color=st["color"], alpha=0.12,
                                linewidth=0)
                ymin, ymax = min(ymin, *band_lo), max(ymax, *band_hi)
        pad = 0.05 * (ymax - ymin if ymax > ymin else abs(ymax) or 1.0)
        ax.set_ylim(ymin - pad, ymax + pad)   # markers at 0 (or at the top) stay visible
        ax.set_xlabel(_AXIS_LABEL.get(x_key, x_key), fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        pname = "SLO x" if panel_key == "slo" else f"{panel_key} "
        ax.set_title(f"{title}, {pname}{pv:g}", fontsize=8)
        ax.grid(alpha=0.3)
    handles, names = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.legend(handles, names, loc="center left", bbox_to_anchor=(1 - 1.95 / w, 0.5),
               fontsize=7, frameon=False, title="scheduler\n(band: 95 % CI)",
               title_fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def sweep_figures(rows, out_dir, *, x_axis: str, metrics, group_axes) -> list[tuple]:
    """The figures of :func:`plot_sweep_ci` as argument tuples of :func:`plot_figure_ci`."""
    out = Path(out_dir)
    varying = [a for a in group_axes if len({r.get(a) for r in rows}) > 1 or a == "workload"]
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r.get(a) for a in varying), []).append(r)
    figs = []
    for gv, rs in groups.items():
        name = "-".join(str(v) if a == "workload" else f"{a}{v}" for a, v in zip(varying, gv))
        d = out / name.replace("/", "_")
        scheds = list(dict.fromkeys(r["sched"] for r in rs))
        title = " ".join(str(v) if a == "workload" else f"{a}={v}" for a, v in zip(varying, gv))
        for m in metrics:
            if len({r[x_axis] for r in rs}) > 1:
                figs.append((rs, x_axis, "slo", m, title, d / f"{m}_vs_{x_axis}.png", scheds))
            if len({r["slo"] for r in rs}) > 1:
                figs.append((rs, "slo", x_axis, m, title, d / f"{m}_vs_slo.png", scheds))
    return figs


def plot_figure_ci(args: tuple) -> Path:
    """Draw one figure of :func:`sweep_figures` (a top-level function: runs in a pool too)."""
    args[5].parent.mkdir(parents=True, exist_ok=True)
    return _fig_ci(*args)


def plot_sweep_ci(rows, out_dir, *, x_axis: str, metrics, group_axes,
                  map_fn=map) -> list[Path]:
    """Each metric vs ``x_axis`` (panels: SLO) and vs SLO (panels: ``x_axis``).

    ``rows``: sweep summary rows (``sim.sweep_summary``): axis values plus
    ``<metric>_mean`` and ``<metric>_ci95``; one line per scheduler with its 95 % CI
    band. One folder per combination of ``group_axes`` values (workload, and every other
    axis that varies). A direction with fewer than two values is not drawn. ``map_fn``
    (e.g. an executor's ``map``) draws the figures.
    """
    figs = sweep_figures(rows, out_dir, x_axis=x_axis, metrics=metrics, group_axes=group_axes)
    return list(map_fn(plot_figure_ci, figs))

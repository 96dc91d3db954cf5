"""PNG plots of run results (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plot_point", "plot_sweep", "scheduler_colour"]


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

"""Timeline plot: which request runs on the accelerator, layer by layer, over a window."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plot_timeline", "timeline_window"]


def timeline_window(res, n_requests: int = 30) -> tuple[int, int]:
    """Default window: from the first command to the ``n_requests``-th completion."""
    if not res.decisions:
        raise ValueError("timeline: the run has no NPU commands")
    start = res.decisions[0].cycle
    comps = sorted(c.cycle for c in res.completions)
    end = comps[min(n_requests, len(comps)) - 1] if comps else res.end_cycle
    return start, max(end, start + 1)


def plot_timeline(res, requests, path, *, window=None, clock_hz: float = 200e6,
                  title: str = "") -> Path:
    """Write a PNG: one row per request (tag), one bar per layer run, coloured by model.

    ``res`` is a :class:`sim.contract.SystemResult`; ``requests`` the workload requests
    (arrivals drawn as ticks, deadlines as diamonds, red where the request finished late);
    ``window`` ``(start, end)`` cycles.
    """
    lo, hi = window or timeline_window(res)
    by_tag = {r.tag: r for r in requests}
    runs = [(d.cycle, lat, d.tag) for d, lat in zip(res.decisions, res.latencies)
            if d.cycle < hi and d.cycle + lat > lo]
    tags = sorted({t for _, _, t in runs})
    row = {t: i for i, t in enumerate(tags)}
    models = sorted({by_tag[t].model for t in tags})
    colour = {m: plt.cm.tab10(i % 10) for i, m in enumerate(models)}
    ms = 1e3 / clock_hz
    fig, ax = plt.subplots(figsize=(11, max(2.5, 0.18 * len(tags) + 1.2)))
    for m in models:
        segs = {}
        for c, lat, t in runs:
            if by_tag[t].model == m:
                segs.setdefault(row[t], []).append((c * ms, lat * ms))
        for y, s in segs.items():
            ax.broken_barh(s, (y - 0.4, 0.8), facecolors=colour[m], edgecolor="none")
        ax.plot([], [], color=colour[m], linewidth=6, label=m)
    arr = [(by_tag[t].arrival * ms, row[t]) for t in tags if lo <= by_tag[t].arrival < hi]
    if arr:
        ax.plot(*zip(*arr), linestyle="none", marker="|", color="black", markersize=7,
                label="arrival")
    fin = {c.tag: c.finish_cycle for c in res.completions}
    for late, colour_, label in ((False, "green", "deadline (met)"),
                                 (True, "red", "deadline (missed)")):
        pts = [(by_tag[t].deadline * ms, row[t]) for t in tags
               if lo <= by_tag[t].deadline < hi and (fin.get(t, hi) > by_tag[t].deadline) == late]
        if pts:
            ax.plot(*zip(*pts), linestyle="none", marker="D", color=colour_, markersize=3.5,
                    label=label)
    ax.set_xlim(lo * ms, hi * ms)
    ax.set_yticks(range(len(tags)), [str(t) for t in tags], fontsize=6)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("request tag")
    ax.set_title(title or "accelerator timeline (one bar per layer)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""Benchmark report of the committed traces: ``docs/benchmark.md`` and its plots.

``python -m sim.trace_report [--root traces/data] [--out docs/benchmark.md] [--img docs/img]``
reads every variant below ``root`` (whatever is there) and writes

* a table per model and pattern: layers, samples, weight density, per-layer activation
  densities (mean over layers, then mean +- std across samples), how much a layer's
  density varies across inputs, end-to-end cycles (mean +- std across samples) and the
  pruned outputs' drift from the dense model;
* ``img/benchmark_<model>.png``: per-layer output density across inputs (box plots),
  dense model: the evidence that sparsity is input-dependent;
* ``img/benchmark_cycles.png``: end-to-end cycles per pattern, relative to dense.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rtl.accelerator.cycle_model import variant_cycles
from sw_scheduler.formats import DEFAULT_CLOCK_HZ as CLOCK_HZ
from sw_scheduler.formats import DEFAULT_LANES as REF_LANES
from traces.format import TRACE_ROOT, load_set

__all__ = ["main", "variant_stats", "write_report"]

REPO = TRACE_ROOT.parent
PATTERN_ORDER = ("dense", "unstructured50", "unstructured75", "block50", "block75",
                 "channel50", "channel75")


def _order(p: str) -> tuple:
    return (PATTERN_ORDER.index(p) if p in PATTERN_ORDER else len(PATTERN_ORDER), p)


def _e2e(v):
    """End-to-end cycles per sample at the default lane count."""
    return variant_cycles(v, REF_LANES).sum(axis=1)


def variant_stats(v) -> dict:
    """Summary numbers of one variant (see the module docstring)."""
    size_in = np.array([lay.M * lay.K * lay.groups for lay in v.layers], dtype=np.float64)
    size_out = np.array([lay.out_size for lay in v.layers], dtype=np.float64)
    d_in = v.in_nnz / size_in                 # [S, L]
    d_out = v.out_nnz / size_out
    e2e = _e2e(v).astype(np.float64)
    wsize = np.array([lay.groups * lay.K * lay.N for lay in v.layers], dtype=np.float64)
    drift = v.source.get("output_drift", {}) if isinstance(v.source, dict) else {}
    return {
        "layers": v.n_layers, "samples": v.n_samples,
        "columns": int(sum(lay.groups * lay.N for lay in v.layers)),
        "w_density": float((np.array([lay.weight_density for lay in v.layers]) * wsize).sum()
                           / wsize.sum()),
        "in_mean": float(d_in.mean(axis=1).mean()), "in_std": float(d_in.mean(axis=1).std()),
        "out_mean": float(d_out.mean(axis=1).mean()), "out_std": float(d_out.mean(axis=1).std()),
        "out_layer_std": float(d_out.std(axis=0).mean()),
        "cyc_mean": float(e2e.mean()), "cyc_std": float(e2e.std()),
        "cyc_min": float(e2e.min()), "cyc_max": float(e2e.max()),
        "drift": drift.get("mean"),
        "kinds": sorted({lay.kind for lay in v.layers}),
    }


def _fmt_cyc(x: float) -> str:
    return f"{x / 1e6:.2f}"


def _plot_layers(model: str, v, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = v.out_nnz / np.array([lay.out_size for lay in v.layers], dtype=np.float64)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.12 * v.n_layers + 2), 3.2))
    ax.boxplot(d, widths=0.6, showfliers=True, flierprops={"markersize": 2})
    ax.set_xticks(range(1, v.n_layers + 1, max(1, v.n_layers // 20)))
    ax.set_xticklabels([str(i) for i in range(0, v.n_layers, max(1, v.n_layers // 20))])
    ax.set_xlabel("layer")
    ax.set_ylabel("output density (non-zeros / size)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{model}/{v.pattern}: per-layer output density across "
                 f"{v.n_samples} inputs")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_cycles(models: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(models)
    ncol = min(4, len(names))
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol + 0.8, 3.0 * nrow), sharey=True,
                             squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax, m in zip(axes.ravel(), names):
        pats = sorted(models[m], key=_order)
        ref = _e2e(models[m]["dense"]).mean() if "dense" in models[m] else 1.0
        ax.boxplot([_e2e(models[m][p]) / ref for p in pats], widths=0.6,
                   flierprops={"markersize": 2})
        ax.set_xticks(range(1, len(pats) + 1))
        ax.set_xticklabels(pats, rotation=90, fontsize=7)
        ax.set_title(m, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for row in axes:
        row[0].set_ylabel("e2e cycles / dense mean")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(root=TRACE_ROOT / "data", out=REPO / "docs" / "benchmark.md",
                 img=REPO / "docs" / "img") -> Path:
    """Write the report and plots for every variant below ``root``; return the .md path."""
    out, img = Path(out), Path(img)
    vs = {k: v for k, v in load_set(root).items() if not v.fixture}
    models: dict[str, dict] = {}
    for (m, p), v in vs.items():
        models.setdefault(m, {})[p] = v
    img.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    rel = Path("img") if img.resolve().parent == out.resolve().parent else img
    lines = [
        "# Benchmark: real multi-DNN sparsity traces",
        "",
        ("Generated by `python -m sim.trace_report` from the traces in `traces/data/` "
        "(provenance, inputs and licences: `traces/SOURCES.md`). Cycles are the datapath "
        f"cycle model's at the reference configuration ({REF_LANES} lanes); milliseconds at "
        f"{CLOCK_HZ / 1e6:.0f} MHz."),
        "",
        ("Columns: *w dens* weight density (non-zero weights / weights, over all layers, of "
        "the compacted weight matrices: output columns all zero in every group are dropped, "
        "see `traces/SOURCES.md`); *cols*: output columns that remain / the dense model's; "
        "*in dens* / *out dens*: density of each layer's sparse operand (im2col rows, fc "
        "inputs, thresholded attention scores) and of its output after the activation, "
        "averaged over layers, mean +- std across samples; *layer std*: std across inputs of a "
        "layer's output density, averaged over layers (how input-dependent it is); "
        "*Mcycles*: end-to-end cycles per inference, mean +- std [min, max] across samples; "
        "*speed-up*: dense mean / variant mean; *drift*: mean relative L2 distance of the "
        "pruned model's outputs from the dense model's on the same inputs (no fine-tuning)."),
        "",
    ]
    lines += ["## Summary", "",
              ("| model | layers | samples | patterns | dense out dens | dense Mcycles "
              "| dense CV | pruned Mcycles (min..max of pattern means) |"),
              "|---|---|---|---|---|---|---|---|"]
    for m in sorted(models):
        st = {p: variant_stats(v) for p, v in models[m].items()}
        d = st.get("dense")
        pr = [s["cyc_mean"] for p, s in st.items() if p != "dense"]
        any_s = next(iter(st.values()))
        lines.append(
            f"| {m} | {any_s['layers']} | {any_s['samples']} | {len(st)} "
            f"| {d['out_mean']:.3f} | {_fmt_cyc(d['cyc_mean'])} "
            f"| {100 * d['cyc_std'] / d['cyc_mean']:.1f} % "
            f"| {_fmt_cyc(min(pr)) + '..' + _fmt_cyc(max(pr)) if pr else '-'} |"
            if d else f"| {m} | {any_s['layers']} | {any_s['samples']} | {len(st)} "
                      f"| - | - | - | - |")
    lines.append("")
    cv = {m: variant_stats(models[m]["dense"]) for m in models if "dense" in models[m]}
    cv = {m: (s["cyc_std"] / s["cyc_mean"], s["out_layer_std"]) for m, s in cv.items()}
    dep = sorted(m for m, (c, _) in cv.items() if c >= 0.002)
    flat = sorted(m for m, (c, _) in cv.items() if c < 0.002)
    lines += [
        "Input dependence (dense models): end-to-end cycles vary across inputs by a "
        "coefficient of variation >= 0.2 % for " + (", ".join(dep) or "none")
        + " (std across inputs of a layer's output density, mean over layers: up to "
        + (f"{max(cv[m][1] for m in dep):.3f}" if dep else "-") + "); "
        "below 0.2 % for " + (", ".join(flat) or "none")
        + ". Models whose activations have no exact zeros (PReLU, GELU, linear outputs) "
        "show little or no dynamic sparsity: it is model-dependent, as measured.", ""]
    for m in sorted(models):
        pats = sorted(models[m], key=_order)
        any_v = models[m][pats[0]]
        st0 = variant_stats(any_v)
        dense_c = variant_stats(models[m]["dense"])["cyc_mean"] if "dense" in models[m] else None
        lines += [f"## {m}", "",
                  (f"{st0['layers']} layers ({', '.join(st0['kinds'])}), {st0['samples']} samples; "
                  f"source: {any_v.source.get('package', '?')} "
                  f"{any_v.source.get('version', '')}."), ""]
        dense_n = (variant_stats(models[m]["dense"])["columns"] if "dense" in models[m]
                   else None)
        lines += [("| pattern | w dens | cols | in dens | out dens | layer std | Mcycles | ms "
                  "| speed-up | drift |"),
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for p in pats:
            s = variant_stats(models[m][p])
            sp = f"{dense_c / s['cyc_mean']:.2f}" if dense_c else "-"
            dr = f"{s['drift']:.3f}" if s["drift"] is not None else "-"
            cols = f"{s['columns'] / dense_n:.2f}" if dense_n else "-"
            lines.append(
                f"| {p} | {s['w_density']:.3f} | {cols} "
                f"| {s['in_mean']:.3f} +- {s['in_std']:.3f} "
                f"| {s['out_mean']:.3f} +- {s['out_std']:.3f} | {s['out_layer_std']:.3f} "
                f"| {_fmt_cyc(s['cyc_mean'])} +- {_fmt_cyc(s['cyc_std'])} "
                f"[{_fmt_cyc(s['cyc_min'])}, {_fmt_cyc(s['cyc_max'])}] "
                f"| {1e3 * s['cyc_mean'] / CLOCK_HZ:.1f} | {sp} | {dr} |")
        ref = models[m].get("dense", any_v)
        png = img / f"benchmark_{m}.png"
        _plot_layers(m, ref, png)
        lines += ["", f"![{m} per-layer density]({(rel / png.name).as_posix()})", ""]
    _plot_cycles(models, img / "benchmark_cycles.png")
    lines += ["## End-to-end cycles per pattern", "",
              f"![cycles per pattern]({(rel / 'benchmark_cycles.png').as_posix()})", ""]
    out.write_text("\n".join(lines))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sim.trace_report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(TRACE_ROOT / "data"))
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmark.md"))
    ap.add_argument("--img", default=str(REPO / "docs" / "img"))
    a = ap.parse_args(argv)
    print(f"sim.trace_report: wrote {write_report(a.root, a.out, a.img)}")


if __name__ == "__main__":
    main()

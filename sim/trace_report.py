"""Benchmark report of the committed traces: ``docs/benchmark.md`` and its plots.

``python -m sim.trace_report [--root traces/data] [--out docs/benchmark.md] [--img docs/img]``
reads every variant below ``root`` (whatever is there) and writes

* a table per model and pattern: layers, samples, weight density, per-layer activation
  densities (mean over layers, then mean +- std across samples), how much a layer's
  density varies across inputs, end-to-end cycles (mean +- std across samples) and the
  pruned outputs' drift from the dense model;
* ``img/benchmark_<model>.png``: per-layer output density across inputs (box plots),
  dense model: the evidence that sparsity is input-dependent;
* ``img/benchmark_cycles.png``: end-to-end cycles per pattern, relative to dense;
* the coefficient of variation (CV) of the end-to-end cycles of every variant, the
  natural-size variants (per-sample shapes) and the int8-zero variants beside their
  exact-zero ones (densities and cycles side by side).

Densities are per sample: a layer's operand size is its rows that sample x ``K`` x
``groups`` and its output size scales with the sample's rows and columns (natural-size
traces, ``docs/trace_format.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rtl.accelerator.cycle_model import variant_cycles
from sw_scheduler.formats import DEFAULT_CLOCK_HZ as CLOCK_HZ
from sw_scheduler.formats import DEFAULT_LANES as REF_LANES
from traces.format import DAMAGED_DRIFT, TRACE_ROOT, load_set

__all__ = ["main", "variant_stats", "write_report"]

REPO = TRACE_ROOT.parent
PATTERN_ORDER = ("dense", "dense_int8", "native", "native_int8", "unstructured50",
                 "unstructured75", "block50", "block75", "channel50", "channel75")


def _order(p: str) -> tuple:
    return (PATTERN_ORDER.index(p) if p in PATTERN_ORDER else len(PATTERN_ORDER), p)


def _e2e(v):
    """End-to-end cycles per sample at the default lane count."""
    return variant_cycles(v, REF_LANES).sum(axis=1)


def variant_stats(v) -> dict:
    """Summary numbers of one variant (see the module docstring)."""
    rows, cols = v.sample_rows(), v.sample_cols()
    lay_k = np.array([[lay.K * lay.groups for lay in v.layers]], dtype=np.float64)
    lay_mn = np.array([[lay.M * lay.N for lay in v.layers]], dtype=np.float64)
    lay_out = np.array([[lay.out_size for lay in v.layers]], dtype=np.float64)
    d_in = v.in_nnz / (rows * lay_k)                             # [S, L]
    d_out = v.out_nnz / (lay_out * rows * cols / lay_mn)
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
        "cv": float(e2e.std() / e2e.mean()),
        "drift": drift.get("mean"), "damaged": v.damaged,
        "kinds": sorted({lay.kind for lay in v.layers}),
    }


def _fmt_cyc(x: float) -> str:
    return f"{x / 1e6:.2f}"


def _plot_layers(model: str, v, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lay_mn = np.array([[lay.M * lay.N for lay in v.layers]], dtype=np.float64)
    lay_out = np.array([[lay.out_size for lay in v.layers]], dtype=np.float64)
    d = v.out_nnz / (lay_out * v.sample_rows() * v.sample_cols() / lay_mn)
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


def _natural_section(models, natural) -> list[str]:
    lines = ["## Inputs of natural size", "",
             ("Texts at their real token count (no padding) and text lines at their real "
              "width: each sample runs its own rows (and, for `Q @ K^T`, columns) per layer "
              "(the trace's `rows` / `cols`); `shape` is the input size a host knows at "
              "arrival."), "",
             "| model | pattern | shape | shape min..max | Mcycles mean [min, max] | CV |",
             "|---|---|---|---|---|---|"]
    for m in natural:
        for p in sorted(models[m], key=_order):
            v = models[m][p]
            e2e = _e2e(v).astype(np.float64)
            lines.append(f"| {m} | {p} | {v.shape_unit} | {v.shape.min()}..{v.shape.max()} "
                         f"| {_fmt_cyc(e2e.mean())} [{_fmt_cyc(e2e.min())}, "
                         f"{_fmt_cyc(e2e.max())}] | {100 * e2e.std() / e2e.mean():.1f} % |")
    return lines + [""]


def _int8_section(models, st_all) -> list[str]:
    rows = []
    for m in sorted(models):
        for p8 in sorted(models[m], key=_order):
            p = p8.removesuffix("_int8")
            if p8 == p or p not in models[m]:
                continue
            a, b = st_all[m][p], st_all[m][p8]
            rows.append(
                f"| {m} | {p} | {a['in_mean']:.3f} / {b['in_mean']:.3f} "
                f"| {a['out_mean']:.3f} / {b['out_mean']:.3f} "
                f"| {a['w_density']:.3f} / {b['w_density']:.3f} "
                f"| {_fmt_cyc(a['cyc_mean'])} / {_fmt_cyc(b['cyc_mean'])} "
                f"| {100 * (1 - b['cyc_mean'] / a['cyc_mean']):.1f} % "
                f"| {100 * a['cv']:.1f} / {100 * b['cv']:.1f} % |")
    if not rows:
        return []
    return ["## int8 zeros vs exact zeros", "",
            ("The datapath multiplies int8 codes: a value below half its tensor's scale is a "
             "zero it skips. `<pattern>_int8` variants count the zeros of "
             "`clip(round(x / s), -127, 127)`, symmetric: one scale `s = max|x| / 127` per "
             "activation tensor (operands, outputs) calibrated on the even-indexed samples, "
             "weights per output channel; the float model runs unchanged "
             "(`traces/SOURCES.md`). Each cell: exact zeros / int8 zeros."), "",
            ("| model | pattern | in dens | out dens | w dens | Mcycles | cycles cut "
             "| CV |"),
            "|---|---|---|---|---|---|---|---|", *rows, ""]


def _damaged_section(models, st_all) -> list[str]:
    bad = {m: [p for p in sorted(models[m], key=_order) if st_all[m][p]["damaged"]]
           for m in sorted(models)}
    n_pruned = sum(1 for m in models for p in models[m] if st_all[m][p]["drift"] is not None
                   and p != "dense")
    lines = ["## Damaged variants", "",
             (f"Pruned without fine-tuning, a variant is *damaged* when the mean relative L2 "
              f"drift of its outputs from the dense model's exceeds {DAMAGED_DRIFT} "
              f"(`traces.format.DAMAGED_DRIFT`): {sum(map(len, bad.values()))} of "
              f"{n_pruned} pruned variants. Scenarios list them per model (`damaged`, "
              f"`docs/workloads.md`)."), "",
             "| model | damaged patterns |", "|---|---|"]
    lines += [f"| {m} | {', '.join(ps)} |" for m, ps in bad.items() if ps]
    return lines + [""]


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
        "*CV*: their coefficient of variation (std / mean) across samples; "
        "*speed-up*: dense (or native) mean / variant mean; *drift*: mean relative L2 "
        "distance of the pruned model's outputs from the dense model's on the same inputs "
        f"(no fine-tuning), *damaged* above {DAMAGED_DRIFT}. Patterns: `dense` (as shipped), "
        "`native` (shipped sparse by its authors), pruned `<family><level>`, and "
        "`<pattern>_int8` (zeros of the int8 codes)."),
        "",
    ]
    st_all = {m: {p: variant_stats(v) for p, v in pv.items()} for m, pv in models.items()}

    def ref_of(m):                   # the model as shipped: dense, or its native sparsity
        return next((p for p in ("dense", "native") if p in models[m]), None)

    lines += ["## Summary", "",
              ("| model | layers | samples | patterns | shipped | out dens | Mcycles "
              "| CV | other patterns' Mcycles (min..max of means) |"),
              "|---|---|---|---|---|---|---|---|---|"]
    for m in sorted(models):
        st = st_all[m]
        r = ref_of(m)
        d = st.get(r)
        pr = [x["cyc_mean"] for p, x in st.items() if p != r]
        any_s = next(iter(st.values()))
        lines.append(
            f"| {m} | {any_s['layers']} | {any_s['samples']} | {len(st)} | {r} "
            f"| {d['out_mean']:.3f} | {_fmt_cyc(d['cyc_mean'])} | {100 * d['cv']:.1f} % "
            f"| {_fmt_cyc(min(pr)) + '..' + _fmt_cyc(max(pr)) if pr else '-'} |"
            if d else f"| {m} | {any_s['layers']} | {any_s['samples']} | {len(st)} "
                      f"| - | - | - | - | - |")
    lines.append("")
    cv = {m: st_all[m][ref_of(m)] for m in models if ref_of(m)}
    natural = sorted(m for m in models if next(iter(models[m].values())).shape is not None)
    fixed = {m: x for m, x in cv.items() if m not in natural}
    dep = sorted(m for m, x in fixed.items() if x["cv"] >= 0.002)
    flat = sorted(m for m, x in fixed.items() if x["cv"] < 0.002)
    lines += [
        "Input dependence (models as shipped, fixed input size): end-to-end cycles vary "
        "across inputs by a coefficient of variation >= 0.2 % for " + (", ".join(dep) or "none")
        + " (at most " + (f"{100 * max(fixed[m]['cv'] for m in dep):.1f} %" if dep else "-")
        + "; std across inputs of a layer's output density, mean over layers: up to "
        + (f"{max(fixed[m]['out_layer_std'] for m in dep):.3f}" if dep else "-") + "); "
        "below 0.2 % for " + (", ".join(flat) or "none")
        + ". Models whose activations have no exact zeros (PReLU, GELU, linear outputs) "
        "show little or no dynamic sparsity: it is model-dependent, as measured. "
        "Inputs of natural size (" + (", ".join(natural) or "none") + ") vary by "
        + (" / ".join(f"{100 * cv[m]['cv']:.0f} %" for m in natural) or "-")
        + ": the input's size, not its activation sparsity, is the large input-dependent "
        "term.", ""]
    lines += _natural_section(models, natural) + _int8_section(models, st_all)
    lines += _damaged_section(models, st_all)
    for m in sorted(models):
        pats = sorted(models[m], key=_order)
        any_v = models[m][pats[0]]
        st0 = st_all[m][pats[0]]
        r = ref_of(m)
        dense_c = st_all[m][r]["cyc_mean"] if r else None
        lines += [f"## {m}", "",
                  (f"{st0['layers']} layers ({', '.join(st0['kinds'])}), {st0['samples']} "
                   f"samples; source: {any_v.source.get('package', '?')} "
                   f"{any_v.source.get('version', '')}."), ""]
        dense_n = st_all[m][r]["columns"] if r else None
        lines += [("| pattern | w dens | cols | in dens | out dens | layer std | Mcycles "
                  "| CV | ms | speed-up | drift |"),
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in pats:
            s = st_all[m][p]
            sp = f"{dense_c / s['cyc_mean']:.2f}" if dense_c else "-"
            dr = (f"{s['drift']:.3f}" + (" damaged" if s["damaged"] else "")
                  if s["drift"] is not None else "-")
            cols = f"{s['columns'] / dense_n:.2f}" if dense_n else "-"
            lines.append(
                f"| {p} | {s['w_density']:.3f} | {cols} "
                f"| {s['in_mean']:.3f} +- {s['in_std']:.3f} "
                f"| {s['out_mean']:.3f} +- {s['out_std']:.3f} | {s['out_layer_std']:.3f} "
                f"| {_fmt_cyc(s['cyc_mean'])} +- {_fmt_cyc(s['cyc_std'])} "
                f"[{_fmt_cyc(s['cyc_min'])}, {_fmt_cyc(s['cyc_max'])}] "
                f"| {100 * s['cv']:.1f} % "
                f"| {1e3 * s['cyc_mean'] / CLOCK_HZ:.1f} | {sp} | {dr} |")
        ref = models[m].get(r, any_v) if r else any_v
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

"""Datapath benchmark: RTL cycles vs. the cycle model and simulator speed on trace layer tiles.

``python -m rtl.accelerator.bench --out out/bench`` (or :func:`run`) writes
``datapath.json``. A *tile* is a slice of one trace layer (its kind, ``K``, and, capped,
``M``, ``N``, ``groups``) whose sparse-operand mask has the layer's measured input density
for one trace sample. Trace format v1 stores counts, not tensors, so the mask *positions*
and all values are drawn with a seeded RNG; weights follow the variant's pattern family
(block: 1 x 8 blocks kept with the layer's weight density; unstructured: elements).
Real traces are read from ``traces/data`` when present, else the synthetic fixtures
(``"real": false`` in the output).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import amaranth
import numpy as np

from traces.format import TRACE_ROOT, Variant, load_set

from .cycle_model import LAYER_OVERHEAD, REF_LANES, ROW_OVERHEAD, layer_cycles, passes, work_count
from .engine import SparseEngine
from .harness import simulate
from .layouts import Activation, Kind
from .reference import LayerData, layer_reference

__all__ = ["FORMULA", "main", "pick_tiles", "run", "trace_tile"]

FORMULA = (f"cycles = work + M*N*groups + {ROW_OVERHEAD}*groups*ceil(N/P)*M + {LAYER_OVERHEAD}")
TILE_CAPS = {"M": 16, "K": 256, "N": 64, "groups": 2}
BLOCK = 8
SEED = 6


def trace_tile(v: Variant, layer: int, sample: int, *, seed: int = SEED,
               caps: dict = TILE_CAPS) -> tuple[LayerData, Kind, dict]:
    """A tile of layer ``layer`` of ``v`` with the input density of ``sample``."""
    ly = v.layers[layer]
    density = float(v.in_nnz[sample, layer]) / (ly.M * ly.K * ly.groups)
    g, m, n = (min(getattr(ly, f), caps[f]) for f in ("groups", "M", "N"))
    k = ly.K
    if k > caps["K"]:
        raise ValueError(f"{v.name} layer {ly.name!r}: K={k} exceeds the tile cap {caps['K']}")
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (g, m, k))
    x[rng.random(x.shape) >= density] = 0
    w = rng.integers(-16, 16, (g, k, n))
    wd = ly.weight_density
    if v.family == "block":
        keep = np.repeat(rng.random((g, k, -(-n // BLOCK))) < wd, BLOCK, axis=2)[:, :, :n]
        w[~keep] = 0
    elif v.family == "unstructured":
        w[rng.random(w.shape) >= wd] = 0
    shift = max(0, int(np.ceil(np.log2(max(1, density * k * 128 * 16)))) - 7)
    act = Activation.IDENTITY if ly.kind == "attention" else Activation.RELU
    kind = {"conv": Kind.CONV, "fc": Kind.FC, "attention": Kind.ATTENTION}[ly.kind]
    info = {"trace": v.name, "real": not v.fixture, "layer": ly.name, "kind": ly.kind,
            "sample": v.samples[sample],
            "layer_shape": {"M": ly.M, "K": ly.K, "N": ly.N, "groups": ly.groups},
            "tile_shape": {"M": m, "K": k, "N": n, "groups": g},
            "in_density": round(density, 4), "weight_family": v.family,
            "weight_density": wd,
            "mask": "positions and values seeded-random at the trace's measured density",
            "_variant": v, "_layer": layer, "_sample": sample}
    return LayerData(x, w, shift=shift, act=act), kind, info


def pick_tiles(root=None, count: int = 2) -> list[tuple[Variant, int]]:
    """Up to ``count`` ``(variant, layer)`` choices: a dense and a block variant if possible."""
    root = Path(root) if root else TRACE_ROOT / "data"
    if not root.is_dir() or not any(root.glob("*/*.npz")):
        root = TRACE_ROOT / "fixtures"
    variants = sorted(load_set(root).values(), key=lambda v: (v.fixture, v.model, v.pattern))
    chosen = []
    for fam in ("block", "dense", "unstructured", "channel"):
        for v in variants:
            if v.family != fam or any(c[0].model == v.model for c in chosen):
                continue
            ok = [i for i, ly in enumerate(v.layers) if ly.kind in ("conv", "fc")
                  and 16 <= ly.K <= TILE_CAPS["K"] and ly.N >= 16]
            if ok:
                # the layer whose sample-0 input density is closest to 50 %: a sparse tile
                dens = {i: v.in_nnz[0, i] / (v.layers[i].M * v.layers[i].K * v.layers[i].groups)
                        for i in ok}
                chosen.append((v, min(ok, key=lambda i: (abs(dens[i] - 0.5), i))))
                break
        if len(chosen) == count:
            break
    if not chosen:
        raise ValueError(f"{root}: no trace layer fits a tile (K in 16..{TILE_CAPS['K']})")
    return chosen


def _trace_check(info: dict, lanes: int) -> dict:
    """The trace's stored full-layer work/cycles against the cycle model (sample of the tile)."""
    v, layer, sample = info.pop("_variant"), info.pop("_layer"), info.pop("_sample")
    ly = v.layers[layer]
    if lanes not in v.lane_options:
        return {"checked": False, "why": f"lanes {lanes} not in the trace's lane_options"}
    work = int(v.work[sample, layer, v.lane_options.index(lanes)])
    bound = int(v.in_nnz[sample, layer]) * passes(ly.N, lanes)
    out = {"checked": True, "work": work, "work_bound": bound, "work_within_bound": work <= bound}
    if lanes == v.ref_lanes:
        model = layer_cycles(M=ly.M, N=ly.N, groups=ly.groups, lanes=lanes, work=work)
        out.update(cycles=int(v.cycles[sample, layer]), cycles_model=model,
                   cycles_equal=int(v.cycles[sample, layer]) == model)
    return out


def run(out_dir, *, lanes: int = REF_LANES, root=None) -> dict:
    """Simulate the tiles, check ``cycles_rtl == cycles_model``, write ``datapath.json``."""
    tiles = [trace_tile(v, layer, 0) for v, layer in pick_tiles(root)]
    max_k = max(t[0].shape["K"] for t in tiles)
    eng = SparseEngine(lanes=lanes, max_k=max_k, x_rows=64, x_vals=4096, w_words=4096,
                       live_words=64)
    runs = simulate(eng, [t[0] for t in tiles], kinds=[t[1] for t in tiles])
    results = []
    for (layer, _, info), r in zip(tiles, runs):
        s = layer.shape
        work = work_count(layer.x != 0, layer.w != 0, lanes)
        model = layer_cycles(M=s["M"], N=s["N"], groups=s["groups"], lanes=lanes, work=work)
        if not np.array_equal(r.y, layer_reference(layer)):
            raise AssertionError(f"{info['trace']} {info['layer']}: RTL output != reference")
        check = _trace_check(info, lanes)
        results.append({**info, "work": work, "passes": passes(s["N"], lanes),
                        "trace_check": check,
                        "cycles_rtl": r.cycles, "cycles_model": model,
                        "cycles_equal": r.cycles == model, "out_nnz": r.nnz,
                        "sim_cycles_per_s": round(r.cycles / r.run_seconds, 1),
                        "load_cycles": r.load_cycles,
                        "load_cycles_per_s": round(r.load_cycles / r.load_seconds, 1)})
    report = {"lanes": lanes, "max_k": max_k, "formula": FORMULA,
              "simulator": f"amaranth {amaranth.__version__} pysim, python "
                           f"{platform.python_version()}",
              "tiles": results}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "datapath.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m rtl.accelerator.bench", description=__doc__)
    ap.add_argument("--out", default="out/bench", help="output directory (datapath.json)")
    ap.add_argument("--lanes", type=int, default=REF_LANES, help="lane count P")
    ap.add_argument("--traces", default=None, help="trace set root (default traces/data)")
    a = ap.parse_args(argv)
    rep = run(a.out, lanes=a.lanes, root=a.traces)
    for t in rep["tiles"]:
        print(f"{t['trace']} {t['layer']} tile {t['tile_shape']}: rtl {t['cycles_rtl']} "
              f"model {t['cycles_model']} cycles, {t['sim_cycles_per_s']:.0f} cycles/s")
    if not all(t["cycles_equal"] for t in rep["tiles"]):
        raise SystemExit("cycles_rtl != cycles_model")


if __name__ == "__main__":
    main()

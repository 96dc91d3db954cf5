"""Datapath benchmark: RTL cycles vs. the cycle model and simulator speed on real layer tiles.

``python -m sim.bench_datapath --out out/bench`` (or :func:`run`) writes
``datapath.json``. The tiles are the committed ``traces/tiles/*.npz``
(:mod:`traces.extract.tiles`): crops of real layers of the OCR direction classifier on
one real input, with the real int8-quantised operand rows (zeros exactly where the real
activation is zero) and real int8-quantised weights, dense and pruned. Each tile runs on
the RTL (Amaranth simulator); its output must equal the numpy reference and its cycles
must equal :func:`~rtl.accelerator.cycle_model.layer_cycles` of its work count.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import amaranth
import numpy as np

from rtl.accelerator.cycle_model import layer_cycles
from rtl.accelerator.engine import SparseEngine
from rtl.accelerator.harness import simulate
from rtl.accelerator.layouts import Activation, Kind
from rtl.accelerator.reference import LayerData, layer_reference
from sw_scheduler.formats import DEFAULT_LANES as REF_LANES
from sw_scheduler.timing import LAYER_OVERHEAD, ROW_OVERHEAD
from traces.extract.tiles import TILE_ROOT, load_tile, tile_paths
from traces.format import TRACE_ROOT, TraceError, load_variant
from traces.work import passes, work_count

__all__ = ["FORMULA", "main", "real_tiles", "run"]

FORMULA = (f"cycles = work + M*N*groups + {ROW_OVERHEAD}*groups*ceil(N/P)*M + {LAYER_OVERHEAD}")


def real_tiles(root=None) -> list[tuple[LayerData, Kind, dict]]:
    """``(layer, kind, info)`` of every real tile below ``root`` (default ``traces/tiles``)."""
    paths = tile_paths(root or TILE_ROOT)
    if not paths:
        raise FileNotFoundError(f"{root or TILE_ROOT}: no tiles (python -m traces.extract.tiles)")
    out = []
    for p in paths:
        t = load_tile(p)
        m = t["meta"]
        layer = LayerData(t["x"], t["w"], shift=t["shift"], act=Activation[t["act"].upper()])
        s = layer.shape
        info = {"tile": p.stem, "real": True, "trace": f"{m['model']}/{m['pattern']}",
                "layer": m["layer"], "kind": "conv", "sample": m["sample"],
                "layer_shape": m["layer_shape"],
                "tile_shape": {"M": s["M"], "K": s["K"], "N": s["N"], "groups": s["groups"]},
                "in_density": round(float((layer.x != 0).mean()), 4),
                "weight_family": m["family"],
                "weight_density": round(float((layer.w != 0).mean()), 4),
                "mask": "real: int8-quantised operand and weights of a real input "
                        "(traces/tiles, traces/SOURCES.md)"}
        out.append((layer, Kind.CONV, info))
    return out


def _trace_check(info: dict, lanes: int, traces_root=None) -> dict:
    """The tile's full layer in the committed trace: shape as generated, stored work count
    within its bound, and the cycles the model derives from it (sample of the tile)."""
    path = Path(traces_root or TRACE_ROOT / "data") / f"{info['trace']}.npz"
    try:
        v = load_variant(path)
    except (FileNotFoundError, TraceError) as e:
        return {"checked": False, "why": f"{path}: {e}"}
    names = [ly.name for ly in v.layers]
    if info["layer"] not in names or info["sample"] not in v.samples:
        return {"checked": False, "why": f"{path}: layer or sample not in the trace"}
    j, s = names.index(info["layer"]), v.samples.index(info["sample"])
    ly = v.layers[j]
    shape = {"groups": ly.groups, "M": ly.M, "K": ly.K, "N": ly.N}
    out = {"checked": True, "layer_shape_equal": shape == info["layer_shape"]}
    if lanes in v.lane_options:
        work = int(v.work[s, j, v.lane_options.index(lanes)])
        model = layer_cycles(M=ly.M, N=ly.N, groups=ly.groups, lanes=lanes, work=work)
        out.update(work=work, cycles_model=model,
                   work_within_bound=work <= int(v.in_nnz[s, j]) * passes(ly.N, lanes))
    return out


def run(out_dir, *, lanes: int = REF_LANES, root=None, traces_root=None) -> dict:
    """Simulate the real tiles, check outputs and ``cycles_rtl == cycles_model``, write
    ``datapath.json``; ``root`` is the tile directory (default ``traces/tiles``)."""
    tiles = real_tiles(root)
    max_k = max(t[0].shape["K"] for t in tiles)
    eng = SparseEngine(lanes=lanes, max_k=max_k, x_rows=128, x_vals=4096, w_words=1024,
                       live_words=64)
    runs = simulate(eng, [t[0] for t in tiles], kinds=[t[1] for t in tiles])
    results = []
    for (layer, _, info), r in zip(tiles, runs):
        s = layer.shape
        work = work_count(layer.x != 0, layer.w != 0, lanes)
        model = layer_cycles(M=s["M"], N=s["N"], groups=s["groups"], lanes=lanes, work=work)
        if not np.array_equal(r.y, layer_reference(layer)):
            raise AssertionError(f"{info['tile']}: RTL output != reference")
        results.append({**info, "work": work, "passes": passes(s["N"], lanes),
                        "trace_check": _trace_check(info, lanes, traces_root),
                        "cycles_rtl": r.cycles, "cycles_model": model,
                        "cycles_equal": r.cycles == model, "out_nnz": r.nnz,
                        "sim_cycles_per_s": round(r.cycles / r.run_seconds, 1),
                        "load_cycles": r.load_cycles,
                        "load_cycles_per_s": round(r.load_cycles / r.load_seconds, 1)})
    report = {"lanes": lanes, "max_k": max_k, "formula": FORMULA, "tiles_real": True,
              "simulator": f"amaranth {amaranth.__version__} pysim, python "
                           f"{platform.python_version()}",
              "tiles": results}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "datapath.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sim.bench_datapath", description=__doc__)
    ap.add_argument("--out", default="out/bench", help="output directory (datapath.json)")
    ap.add_argument("--lanes", type=int, default=REF_LANES, help="lane count P")
    ap.add_argument("--tiles", default=None, help="tile directory (default traces/tiles)")
    ap.add_argument("--traces", default=None, help="trace set root (default traces/data)")
    a = ap.parse_args(argv)
    rep = run(a.out, lanes=a.lanes, root=a.tiles, traces_root=a.traces)
    for t in rep["tiles"]:
        print(f"{t['tile']} (real) tile {t['tile_shape']}: rtl {t['cycles_rtl']} "
              f"model {t['cycles_model']} cycles, {t['sim_cycles_per_s']:.0f} cycles/s")
    if not all(t["cycles_equal"] for t in rep["tiles"]):
        raise SystemExit("cycles_rtl != cycles_model")


if __name__ == "__main__":
    main()

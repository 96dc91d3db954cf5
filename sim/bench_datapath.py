"""Datapath benchmark: the cycle model on every real layer, and the RTL on real layer tiles.

``python -m sim.bench_datapath --out out/bench`` (or :func:`run`) writes
``datapath.json`` with two parts:

* **Traces** (:func:`trace_summary`): every conv / fc layer of every committed model
  (``traces/data``) through the exact cycle model at ``lanes`` lanes, from the stored work
  counts. ``dense_utilisation`` = busy cycles (``work``: cycles in which the busiest lane
  multiplies) / total cycles over the conv and fc layers of each model's ``dense`` variant,
  one inference per model (the mean over its samples); the top-level value is the *lowest*
  model's, ``dense_utilisation_pooled`` pools every model. Pattern speed-ups compare a
  pruned variant with ``dense`` on the model's **weight layers** (conv / fc layers whose
  weights some variant prunes, i.e. not the attention score products), each on its own real
  activations: ``unstructured75_speedup`` = dense cycles / ``unstructured75`` cycles, pooled
  over the models that have both, beside the ideal speed-up (effective products / lanes,
  perfect balance and no overhead).
* **Tiles** (:func:`run_tiles`): the committed ``traces/tiles/*.npz`` (crops of real OCR
  classifier layers on one real input, :mod:`traces.extract.tiles`), dense and pruned, run
  on the RTL (Amaranth simulator): output equal to the numpy reference, ``cycles_rtl ==
  cycles_model``.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import amaranth
import numpy as np

from rtl.accelerator.cycle_model import layer_cycles, variant_cycles
from rtl.accelerator.engine import SparseEngine
from rtl.accelerator.harness import simulate
from rtl.accelerator.layouts import Activation, Kind
from rtl.accelerator.reference import LayerData, layer_reference
from sw_scheduler.formats import DEFAULT_LANES as REF_LANES
from sw_scheduler.timing import LAYER_OVERHEAD
from traces.extract.tiles import TILE_ROOT, load_tile, tile_paths
from traces.format import TRACE_ROOT, TraceError, load_set, load_variant
from traces.work import passes, work_counts

__all__ = ["FORMULA", "main", "real_tiles", "run", "run_tiles", "trace_summary",
           "weight_layers"]

FORMULA = f"cycles = work + empty + {LAYER_OVERHEAD}"
SPEEDUP_PATTERN = "unstructured75"


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
                "pattern": m["pattern"], "layer": m["layer"], "kind": "conv",
                "sample": m["sample"], "layer_shape": m["layer_shape"],
                "tile_shape": {"M": s["M"], "K": s["K"], "N": s["N"], "groups": s["groups"]},
                "in_density": round(float((layer.x != 0).mean()), 4),
                "weight_family": m["family"],
                "weight_density": round(float((layer.w != 0).mean()), 4),
                "mask": "real: int8-quantised operand and weights of a real input "
                        "(traces/tiles, traces/SOURCES.md)"}
        out.append((layer, Kind.CONV, info))
    return out


def _trace_check(info: dict, lanes: int, traces_root=None) -> dict:
    """The tile's full layer in the committed trace: shape as generated, stored work counts
    consistent, and the cycles the model derives from them (sample of the tile)."""
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
        work, empty = int(v.work_at(lanes)[s, j]), int(v.empty_at(lanes)[s, j])
        prod = int(v.products[s, j])
        rows = ly.groups * ly.M * passes(ly.N, lanes)
        out.update(work=work, empty=empty, products=prod,
                   cycles_model=layer_cycles(work=work, empty=empty),
                   work_within_bound=(work <= prod <= int(v.in_nnz[s, j]) * ly.N
                                      and empty <= rows))
    return out


def run_tiles(*, lanes: int = REF_LANES, root=None, traces_root=None) -> dict:
    """Simulate the real tiles on the RTL; check outputs and ``cycles_rtl == cycles_model``."""
    tiles = real_tiles(root)
    max_k = max(t[0].shape["K"] for t in tiles)
    eng = SparseEngine(lanes=lanes, max_k=max_k, x_rows=128, w_words=1024, live_words=64)
    runs = simulate(eng, [t[0] for t in tiles], kinds=[t[1] for t in tiles])
    results = []
    for (layer, _, info), r in zip(tiles, runs):
        wc = work_counts(layer.x != 0, layer.w != 0, lanes)
        model = layer_cycles(work=wc.work, empty=wc.empty)
        if not np.array_equal(r.y, layer_reference(layer)):
            raise AssertionError(f"{info['tile']}: RTL output != reference")
        s = layer.shape
        results.append({**info, "work": wc.work, "empty": wc.empty, "products": wc.products,
                        "passes": passes(s["N"], lanes),
                        "trace_check": _trace_check(info, lanes, traces_root),
                        "cycles_rtl": r.cycles, "cycles_model": model,
                        "cycles_equal": r.cycles == model, "out_nnz": r.nnz,
                        "utilisation": round(wc.work / r.cycles, 4),
                        "ideal_cycles": round(wc.products / lanes, 1),
                        "sim_cycles_per_s": round(r.cycles / r.run_seconds, 1),
                        "load_cycles": r.load_cycles,
                        "load_cycles_per_s": round(r.load_cycles / r.load_seconds, 1)})
    by = {t["tile"]: t for t in results}
    dense = [t for t in results if t["pattern"] == "dense"]
    pairs = [(t, by.get(t["tile"].replace("_dense", f"_{SPEEDUP_PATTERN}"))) for t in dense]
    pairs = [(d, u) for d, u in pairs if u is not None]
    summary = {"max_k": max_k, "tiles": results,
               "tiles_dense_utilisation": _ratio(sum(t["work"] for t in dense),
                                                 sum(t["cycles_rtl"] for t in dense))}
    if pairs:
        summary[f"tiles_{SPEEDUP_PATTERN}_speedup"] = _ratio(
            sum(d["cycles_rtl"] for d, _ in pairs), sum(u["cycles_rtl"] for _, u in pairs))
    return summary


def _ratio(a, b) -> float | None:
    return round(float(a) / float(b), 4) if b else None


def weight_layers(variants: dict) -> list[int]:
    """Indices of a model's weight layers: conv / fc layers whose weights some of its
    variants prune (weight density < 1); attention score products (``Q K^T`` as fc with an
    all-true mask, ``S V``) never are."""
    first = next(iter(variants.values()))
    same = [v for v in variants.values() if len(v.layers) == len(first.layers)]
    return [j for j, ly in enumerate(first.layers) if ly.kind in ("conv", "fc")
            and any(v.layers[j].weight_density < 1 for v in same)]


def _per_inference(v, lanes: int, cols: list[int], samples: list[str]) -> dict:
    """Mean over ``samples`` of the summed cycles / work / products of layers ``cols``."""
    rows = [v.samples.index(s) for s in samples]
    pick = np.ix_(rows, cols)
    return {"cycles": float(variant_cycles(v, lanes)[pick].sum(axis=1).mean()),
            "work": float(v.work_at(lanes)[pick].sum(axis=1).mean()),
            "products": float(v.products[pick].sum(axis=1).mean())}


def trace_summary(root=None, *, lanes: int = REF_LANES, sets: dict | None = None) -> dict:
    """Dense utilisation and pattern speed-ups of every committed model (module docstring);
    ``sets``: the variants already loaded (``load_set``), instead of reading ``root``."""
    if sets is None:
        sets = load_set(root or TRACE_ROOT / "data")
    models: dict[str, dict] = {}
    for (m, p), v in sets.items():
        models.setdefault(m, {})[p] = v
    out_models, pooled, pats = {}, {"work": 0.0, "cycles": 0.0}, {}
    for m, variants in sorted(models.items()):
        dense = variants.get("dense")
        if dense is None or lanes not in dense.lane_options:
            continue
        conv_fc = [j for j, ly in enumerate(dense.layers) if ly.kind in ("conv", "fc")]
        d = _per_inference(dense, lanes, conv_fc, list(dense.samples))
        entry = {"layers_conv_fc": len(conv_fc), "dense_cycles": round(d["cycles"], 1),
                 "dense_utilisation": _ratio(d["work"], d["cycles"]), "patterns": {}}
        pooled["work"] += d["work"]
        pooled["cycles"] += d["cycles"]
        wl = weight_layers(variants)
        for p, v in sorted(variants.items()):
            if p == "dense" or not wl or len(v.layers) != len(dense.layers):
                continue
            common = [s for s in dense.samples if s in v.samples]
            if not common or lanes not in v.lane_options:
                continue
            a, b = (_per_inference(x, lanes, wl, common) for x in (dense, v))
            entry["patterns"][p] = {"speedup": _ratio(a["cycles"], b["cycles"]),
                                    "ideal_speedup": _ratio(a["products"], b["products"]),
                                    "efficiency": _ratio(b["products"] / lanes, b["cycles"])}
            acc = pats.setdefault(p, {"dense": 0.0, "pruned": 0.0, "pd": 0.0, "pp": 0.0,
                                      "models": []})
            acc["dense"] += a["cycles"]
            acc["pruned"] += b["cycles"]
            acc["pd"] += a["products"]
            acc["pp"] += b["products"]
            acc["models"].append(m)
        out_models[m] = entry
    if not out_models:
        raise TraceError(f"{root or TRACE_ROOT / 'data'}: no model has a dense variant with "
                         f"work counts for {lanes} lanes")
    pattern_table = {p: {"speedup": _ratio(a["dense"], a["pruned"]),
                         "ideal_speedup": _ratio(a["pd"], a["pp"]),
                         "efficiency": _ratio(a["pp"] / lanes, a["pruned"]),
                         "models": a["models"]} for p, a in sorted(pats.items())}
    worst = min(out_models, key=lambda k: out_models[k]["dense_utilisation"])
    res = {"dense_utilisation": out_models[worst]["dense_utilisation"],
           "dense_utilisation_lowest_model": worst,
           "dense_utilisation_pooled": _ratio(pooled["work"], pooled["cycles"]),
           "patterns": pattern_table, "models": out_models}
    if SPEEDUP_PATTERN in pattern_table:
        t = pattern_table[SPEEDUP_PATTERN]
        res[f"{SPEEDUP_PATTERN}_speedup"] = t["speedup"]
        res[f"{SPEEDUP_PATTERN}_ideal_speedup"] = t["ideal_speedup"]
        res[f"{SPEEDUP_PATTERN}_efficiency"] = t["efficiency"]
    return res


def run(out_dir, *, lanes: int = REF_LANES, root=None, traces_root=None) -> dict:
    """Both parts; writes ``datapath.json``. ``root``: tile directory (default
    ``traces/tiles``), ``traces_root``: trace set (default ``traces/data``)."""
    tr = trace_summary(traces_root, lanes=lanes)
    tiles = run_tiles(lanes=lanes, root=root, traces_root=traces_root)
    head = {k: v for k, v in tr.items() if k not in ("patterns", "models")}
    report = {"lanes": lanes, "formula": FORMULA, **head,
              "definitions": {
                  "dense_utilisation": "lowest over models of busy cycles / cycles, conv and "
                                       "fc layers of the dense variant, one inference (mean "
                                       "over samples), exact cycle model from the traces",
                  f"{SPEEDUP_PATTERN}_speedup": "dense cycles / unstructured75 cycles over "
                                                "the weight layers of every model with both "
                                                "variants, one inference each, each on its "
                                                "own real activations",
                  "ideal_speedup": "dense / pruned effective products (products / lanes "
                                   "cycles: perfect balance, no overhead)",
                  "efficiency": "(products / lanes) / cycles of the pruned variant"},
              "patterns": tr["patterns"], "models": tr["models"],
              "tiles_real": True,
              "simulator": f"amaranth {amaranth.__version__} pysim, python "
                           f"{platform.python_version()}",
              **tiles}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "datapath.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sim.bench_datapath", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/bench", help="output directory (datapath.json)")
    ap.add_argument("--lanes", type=int, default=REF_LANES, help="lane count P")
    ap.add_argument("--tiles", default=None, help="tile directory (default traces/tiles)")
    ap.add_argument("--traces", default=None, help="trace set root (default traces/data)")
    a = ap.parse_args(argv)
    try:
        rep = run(a.out, lanes=a.lanes, root=a.tiles, traces_root=a.traces)
    except (TraceError, FileNotFoundError, ValueError) as e:
        raise SystemExit(f"sim.bench_datapath: {e}") from None
    for t in rep["tiles"]:
        print(f"{t['tile']} tile {t['tile_shape']}: rtl {t['cycles_rtl']} model "
              f"{t['cycles_model']} cycles, {t['sim_cycles_per_s']:.0f} cycles/s")
    print(f"dense_utilisation {rep['dense_utilisation']} (lowest: "
          f"{rep['dense_utilisation_lowest_model']}), pooled {rep['dense_utilisation_pooled']}")
    for p, t in rep["patterns"].items():
        print(f"{p}: speed-up {t['speedup']} (ideal {t['ideal_speedup']}, "
              f"efficiency {t['efficiency']})")
    if not all(t["cycles_equal"] for t in rep["tiles"]):
        raise SystemExit("cycles_rtl != cycles_model")


if __name__ == "__main__":
    main()

"""The datapath bench: real layer tiles on the RTL (output equals the reference, cycles equal
the cycle model) and the committed traces through the cycle model (the issue's targets).

The tiles (``traces/tiles``, :mod:`traces.extract.tiles`) are crops of real OCR-classifier
layers on a real input: real int8-quantised operand rows and weights, dense and pruned.
"""

import json

import numpy as np
import pytest

from rtl.accelerator.cycle_model import mask_cycles
from rtl.accelerator.engine import SparseEngine
from rtl.accelerator.harness import simulate
from rtl.accelerator.reference import layer_reference
from sim.bench_datapath import real_tiles, run, trace_summary, weight_layers
from traces.format import TRACE_ROOT, load_set


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    rep = run(out)
    assert json.loads((out / "datapath.json").read_text()) == rep
    return rep


def test_real_tiles_cycles_equal_model(report):
    tiles = report["tiles"]
    assert report["tiles_real"] and len(tiles) >= 12
    assert {t["weight_family"] for t in tiles} >= {"dense", "block", "unstructured"}
    for t in tiles:
        assert t["real"] and t["mask"].startswith("real")
        assert t["cycles_rtl"] == t["cycles_model"] > 0, t["tile"]
        shp = t["tile_shape"]
        assert 0 < t["work"] <= shp["groups"] * shp["M"] * shp["K"] * t["passes"]
        assert t["work"] * 16 >= t["products"] >= t["work"]
        assert t["sim_cycles_per_s"] > 0
        chk = t["trace_check"]                 # the tile's full layer in the committed trace
        assert chk["checked"] and chk["layer_shape_equal"] and chk["work_within_bound"], t["tile"]


def test_pruned_tiles_take_fewer_cycles(report):
    by = {t["tile"]: t for t in report["tiles"]}
    for pattern in ("block50", "unstructured75"):
        pairs = [(k, k.replace("_dense", f"_{pattern}")) for k in by if k.endswith("_dense")]
        assert pairs
        for d, p in pairs:
            assert by[p]["cycles_rtl"] < by[d]["cycles_rtl"], (d, p)
    assert report["tiles_unstructured75_speedup"] > 2


def test_issue_targets_on_the_committed_traces(report):
    """Every model's dense conv/fc layers keep the lanes busy >= 90 % of the cycles; pruning
    75 % of the weights unstructured takes at least 2x fewer cycles than dense."""
    assert report["dense_utilisation"] >= 0.9
    assert report["unstructured75_speedup"] >= 2.0
    assert report["unstructured75_speedup"] <= report["unstructured75_ideal_speedup"]
    assert all(m["dense_utilisation"] >= report["dense_utilisation"]
               for m in report["models"].values())


def test_trace_summary_definitions():
    sets = load_set(TRACE_ROOT / "data")
    variants = {p: v for (m, p), v in sets.items() if m == "minilm_l6"}
    wl = weight_layers(variants)
    names = [variants["dense"].layers[j].name for j in wl]
    assert names and not any(n.endswith(("attention.qk", "attention.sv")) for n in names)
    at8 = trace_summary(lanes=8)
    at64 = trace_summary(lanes=64)
    # more lanes per pass: each pass waits for a busier lane, so pruning gains less
    assert at64["patterns"]["unstructured75"]["efficiency"] < \
        at8["patterns"]["unstructured75"]["efficiency"]


def test_real_tile_at_8_lanes():
    """A multi-pass tile (N = 48) on an 8-lane engine: six passes, cycles still exact."""
    layer, kind, _ = next(t for t in real_tiles() if t[2]["tile"].endswith("1x1w_unstructured75"))
    eng = SparseEngine(lanes=8, max_k=layer.shape["K"], x_rows=32, w_words=128, live_words=8)
    (r,) = simulate(eng, [layer], kinds=[kind])
    assert np.array_equal(r.y, layer_reference(layer))
    assert r.nnz == np.count_nonzero(r.y)
    assert r.cycles == mask_cycles(layer.x != 0, layer.w != 0, 8)

"""Real layer tiles on the RTL: output equals the reference, cycles equal the cycle model.

The tiles (``traces/tiles``, :mod:`traces.extract.tiles`) are crops of real OCR-classifier
layers on a real input: real int8-quantised operand rows and weights, dense and pruned.
"""

import json

import numpy as np
import pytest

from rtl.accelerator.cycle_model import layer_cycles
from rtl.accelerator.engine import SparseEngine
from rtl.accelerator.harness import simulate
from rtl.accelerator.reference import layer_reference
from sim.bench_datapath import real_tiles, run
from traces.work import work_count


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    rep = run(out)
    assert json.loads((out / "datapath.json").read_text()) == rep
    return rep


def test_real_tiles_cycles_equal_model(report):
    tiles = report["tiles"]
    assert report["tiles_real"] and len(tiles) >= 6
    assert {t["weight_family"] for t in tiles} >= {"dense", "block"}
    for t in tiles:
        assert t["real"] and t["mask"].startswith("real")
        assert t["cycles_rtl"] == t["cycles_model"] > 0, t["tile"]
        shp = t["tile_shape"]
        assert 0 < t["work"] <= shp["groups"] * shp["M"] * shp["K"] * t["passes"]
        assert t["sim_cycles_per_s"] > 0
        chk = t["trace_check"]                 # the tile's full layer in the committed trace
        assert chk["checked"] and chk["layer_shape_equal"] and chk["work_within_bound"], t["tile"]


def test_pruned_tiles_take_fewer_cycles(report):
    by = {t["tile"]: t for t in report["tiles"]}
    pairs = [(k, k.replace("_dense", "_block50")) for k in by if k.endswith("_dense")]
    assert pairs
    for d, p in pairs:
        assert by[p]["work"] < by[d]["work"] and by[p]["cycles_rtl"] < by[d]["cycles_rtl"], d


def test_real_tile_at_8_lanes():
    """A multi-pass tile (N = 48) on an 8-lane engine: six passes, cycles still exact."""
    layer, kind, _ = next(t for t in real_tiles() if t[2]["tile"].endswith("1x1w_block50"))
    eng = SparseEngine(lanes=8, max_k=layer.shape["K"], x_rows=32, x_vals=1024, w_words=128,
                       live_words=8)
    (r,) = simulate(eng, [layer], kinds=[kind])
    s = layer.shape
    assert np.array_equal(r.y, layer_reference(layer))
    assert r.nnz == np.count_nonzero(r.y)
    assert r.cycles == layer_cycles(M=s["M"], N=s["N"], groups=s["groups"], lanes=8,
                                    work=work_count(layer.x != 0, layer.w != 0, 8))

"""Trace layer tiles on the RTL: output equals the reference and cycles equal the model.

Tiles come from ``traces/data`` when it exists, else from the synthetic fixtures; trace
format v1 stores counts, not tensors, so the masks are drawn at the trace's measured
density (see :mod:`rtl.accelerator.bench`).
"""

import json

from rtl.accelerator.bench import pick_tiles, run, trace_tile


def test_trace_tile_density_matches_trace():
    v, layer = pick_tiles()[0]
    tile, _, info = trace_tile(v, layer, 0)
    ly = v.layers[layer]
    want = v.in_nnz[0, layer] / (ly.M * ly.K * ly.groups)
    got = (tile.x != 0).mean()
    assert abs(got - want) < 0.08, (got, want)
    assert info["trace"] == v.name and info["tile_shape"]["K"] == ly.K


def test_bench_writes_equal_cycles(tmp_path):
    rep = run(tmp_path)
    on_disk = json.loads((tmp_path / "datapath.json").read_text())
    assert on_disk == rep and rep["tiles"]
    for t in rep["tiles"]:
        assert t["cycles_rtl"] == t["cycles_model"] > 0
        shp = t["tile_shape"]
        assert t["sim_cycles_per_s"] > 0
        assert t["work"] <= shp["groups"] * shp["M"] * shp["K"] * t["passes"]
        chk = t["trace_check"]                   # the stored full layer vs. the cycle model
        if chk["checked"]:
            assert chk["work_within_bound"] and chk.get("cycles_equal", True)

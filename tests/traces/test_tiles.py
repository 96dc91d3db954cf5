"""Committed real datapath tiles: regenerating them gives identical bytes; they match the traces.

Needs onnxruntime + onnx + rapidocr-onnxruntime (the ``test`` extra), like
``test_traces_reextract.py``.
"""

import numpy as np
import pytest

from traces.extract import common, tiles
from traces.format import load_variant


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    return tiles.write_tiles(tmp_path_factory.mktemp("tiles"))


def test_regenerating_tiles_gives_identical_bytes(regenerated):
    committed = tiles.tile_paths()
    assert [p.name for p in committed] == sorted(p.name for p in regenerated)
    assert len(committed) == len(tiles.TILES) * len(tiles.PATTERNS)
    new = {p.name: p for p in regenerated}
    for p in committed:
        assert p.read_bytes() == new[p.name].read_bytes(), p.name
        a, b = tiles.load_tile(p), tiles.load_tile(new[p.name])
        assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["w"], b["w"])
        assert a["meta"] == b["meta"]


def test_tiles_are_real_int8_crops_consistent_with_the_traces():
    for p in tiles.tile_paths():
        t = tiles.load_tile(p)
        m = t["meta"]
        x, w = t["x"], t["w"]
        assert np.abs(x).max() <= tiles.QMAX and np.abs(w).max() <= tiles.QMAX
        assert x.shape == (m["crop"]["groups"], tiles.ROWS, m["layer_shape"]["K"])
        assert w.shape[2] <= tiles.MAX_N and x.shape[0] <= tiles.MAX_GROUPS
        assert 0 < (x != 0).mean() and 0 < (w != 0).mean()
        # the full layer's operand non-zeros and shape are the committed trace's
        v = load_variant(common.DATA_ROOT / m["model"] / f"{m['pattern']}.npz")
        j = [ly.name for ly in v.layers].index(m["layer"])
        s = v.samples.index(m["sample"])
        assert m["layer_in_nnz"] == v.in_nnz[s, j], p.name
        ly = v.layers[j]
        assert m["layer_shape"] == {"groups": ly.groups, "M": ly.M, "K": ly.K, "N": ly.N}
        acc = np.abs(np.einsum("gmk,gkn->gmn", x, w)).max()
        assert acc >> t["shift"] <= 127 and (t["shift"] == 0 or acc >> (t["shift"] - 1) > 127)


def test_quantise_keeps_the_real_zero_pattern():
    a = np.array([0.0, 1e-6, -1e-6, 0.5, -1.0, 2.0])
    q = tiles._quantise(a, 1.0 / 127)
    assert np.array_equal(q != 0, a != 0)
    assert q.dtype == np.int8 and q[4] == -127 and q[5] == 127

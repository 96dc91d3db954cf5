"""Trace format v2: the optional per-sample shape arrays (``rows``, ``cols``, ``shape``).

Each malformed file gives a :class:`TraceError` naming the file, the field and the value;
the cycle model runs each sample at its own rows and columns.
"""

import json

import numpy as np
import pytest

from rtl.accelerator.cycle_model import layer_cycles, variant_cycles
from traces.format import Layer, TraceError, Variant, load_variant, save_variant
from traces.work import LANE_OPTIONS

LAYERS = (Layer("fc0", "fc", M=8, K=4, N=6, groups=1, macs=8 * 4 * 6, out_size=48,
                weight_density=1.0),
          Layer("qk", "fc", M=8, K=4, N=8, groups=2, macs=2 * 8 * 4 * 8, out_size=128,
                weight_density=1.0))


def _variant(**kw) -> Variant:
    """Three samples of 8, 5 and 2 tokens: rows = tokens, qk has one column per token."""
    tokens = np.array([8, 5, 2])
    rows = np.stack([tokens, tokens], axis=1)
    cols = np.stack([np.full(3, 6), tokens], axis=1)
    out_nnz = np.stack([tokens * 6, 2 * tokens * tokens], axis=1)   # every output non-zero
    work = np.zeros((3, 2, len(LANE_OPTIONS)), dtype=np.int64)
    work[:] = (rows * 4)[:, :, None]
    args = {"model": "m", "pattern": "dense", "family": "dense", "level": 0.0,
            "lane_options": LANE_OPTIONS, "layers": LAYERS, "samples": ("a", "b", "c"),
            "in_nnz": rows * 4, "out_nnz": out_nnz, "work": work, "rows": rows, "cols": cols,
            "shape": tokens, "shape_unit": "tokens"}
    return Variant(**(args | kw))


def test_shape_arrays_round_trip(tmp_path):
    p = save_variant(_variant(), tmp_path / "m" / "dense.npz")
    v = load_variant(p)
    assert v.shape_unit == "tokens" and v.shape.tolist() == [8, 5, 2]
    assert v.rows.tolist() == [[8, 8], [5, 5], [2, 2]]
    assert v.cols.tolist() == [[6, 8], [6, 5], [6, 2]]
    assert np.array_equal(v.sample_rows(), v.rows)


def test_variant_cycles_use_each_samples_shape(tmp_path):
    v = load_variant(save_variant(_variant(), tmp_path / "m" / "dense.npz"))
    for lanes in LANE_OPTIONS:
        cyc = variant_cycles(v, lanes)
        for s in range(v.n_samples):
            for j, lay in enumerate(v.layers):
                assert cyc[s, j] == layer_cycles(M=int(v.rows[s, j]), N=int(v.cols[s, j]),
                                                 groups=lay.groups, lanes=lanes,
                                                 work=int(v.work[s, j, 0]))
        assert cyc[0].sum() > cyc[1].sum() > cyc[2].sum()     # longer inputs take longer


def test_without_shape_arrays_every_sample_has_the_layer_shape(tmp_path):
    v = _variant(rows=None, cols=None, shape=None, shape_unit="",
                 out_nnz=np.zeros((3, 2), dtype=np.int64))
    v = load_variant(save_variant(v, tmp_path / "m" / "dense.npz"))
    assert v.rows is None and v.shape is None
    assert v.sample_rows().tolist() == [[8, 8]] * 3 and v.sample_cols().tolist() == [[6, 8]] * 3
    cyc = variant_cycles(v, 16)
    assert cyc[0, 1] == layer_cycles(M=8, N=8, groups=2, lanes=16, work=int(v.work[0, 1, 1]))
    with np.load(tmp_path / "m" / "dense.npz") as z:
        assert set(z.files) == {"meta", "in_nnz", "out_nnz", "work"}


def _rewrite(path, **changes):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    for k, fn in changes.items():
        if k == "meta":
            fn(meta)
        elif fn is None:
            arrays.pop(k)
        else:
            arrays[k] = fn(arrays[k])
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)


def _set(a, idx, value):
    a = a.copy()
    a[idx] = value
    return a


@pytest.mark.parametrize("changes, match", [
    ({"rows": lambda a: _set(a, (1, 0), 9)},
     r"array 'rows' value 9 at sample 'b' exceeds M = 8 of layer 'fc0'"),
    ({"rows": lambda a: _set(a, (2, 1), 0)}, r"array 'rows' has value 0 < 1 at sample 'c'"),
    ({"cols": lambda a: _set(a, (0, 1), 12)},
     r"array 'cols' value 12 at sample 'a' exceeds N = 8 of layer 'qk'"),
    ({"rows": lambda a: a[:, :1]}, r"array 'rows' has shape \(3, 1\), expected \(3, 2\)"),
    ({"shape": lambda a: a.astype(np.float64)}, r"array 'shape' must be integer"),
    ({"shape": lambda a: a[:2]}, r"array 'shape' has shape \(2,\), expected \(3,\)"),
    ({"shape": lambda a: _set(a, 0, -1)}, r"array 'shape' has value -1 < 1 at sample 'a'"),
    ({"meta": lambda m: m.pop("shape_unit")}, r"array 'shape' needs the field 'shape_unit'"),
    ({"meta": lambda m: m.update(shape_unit=7)}, r"field 'shape_unit' must be str, got 7"),
    ({"shape": None, "meta": lambda m: m.pop("shape_unit")},
     r"arrays 'rows'/'cols' need the array 'shape'"),
    ({"shape": None, "rows": None, "cols": None},
     r"field 'shape_unit' = 'tokens' without array 'shape'"),
    # sample 'b' has 5 tokens: its qk output has 2 x 5 x 5 = 50 elements, not 51
    ({"out_nnz": lambda a: _set(a, (1, 1), 51)},
     r"array 'out_nnz' value 51 exceeds the output size of sample 'b' in layer 'qk'"),
])
def test_malformed_shape_arrays(tmp_path, changes, match):
    p = save_variant(_variant(), tmp_path / "m" / "dense.npz")
    _rewrite(p, **changes)
    with pytest.raises(TraceError, match=match) as e:
        load_variant(p)
    assert str(p) in str(e.value)

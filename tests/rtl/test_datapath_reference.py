"""The numpy reference, the buffer formats and the cycle model, without simulation."""

import numpy as np
import pytest

from rtl.accelerator.cycle_model import layer_cycles
from rtl.accelerator.layouts import Activation
from rtl.accelerator.reference import (
    LayerData,
    compress_rows,
    conv_layer,
    decode_entries,
    layer_reference,
    out_entries,
    weight_words,
)
from sw_scheduler.timing import DRAIN_LATENCY, FLUSH_CYCLES, LAYER_OVERHEAD, ROW_OVERHEAD
from traces.work import passes, work_count


def _direct_conv(img, weight, stride, pad, groups):
    _, h, w = img.shape
    cout, cg, kh, kw = weight.shape
    p = np.pad(img, ((0, 0), (pad, pad), (pad, pad))).astype(np.int64)
    ho, wo = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    out = np.zeros((cout, ho, wo), dtype=np.int64)
    ng = cout // groups
    for o in range(cout):
        g = o // ng
        for r in range(ho):
            for s in range(wo):
                rs, ss = r * stride, s * stride
                patch = p[g * cg:(g + 1) * cg, rs:rs + kh, ss:ss + kw]
                out[o, r, s] = int((patch * weight[o]).sum())
    return out


@pytest.mark.parametrize("stride,pad,groups", [(1, 0, 1), (2, 1, 1), (1, 1, 2), (1, 1, 4)])
def test_conv_im2col_matches_direct_convolution(stride, pad, groups):
    rng = np.random.default_rng(stride * 10 + pad + groups)
    img = rng.integers(-128, 128, (4, 6, 5))
    weight = rng.integers(-128, 128, (4, 4 // groups, 3, 3))
    ly = conv_layer(img, weight, stride=stride, pad=pad, groups=groups, act=Activation.IDENTITY)
    acc = np.einsum("gmk,gkn->gmn", ly.x, ly.w)            # [g, Ho*Wo, Cout/g]
    direct = _direct_conv(img, weight, stride, pad, groups)
    g, _, ng = acc.shape
    got = acc.transpose(0, 2, 1).reshape(g * ng, -1)
    assert np.array_equal(got, direct.reshape(direct.shape[0], -1))


def test_requantise_saturates_and_relu():
    x = np.array([[[1, 2]]])
    w = np.array([[[100, -100, 1, 0], [100, -100, 0, 1]]])   # acc = 300, -300, 1, 2
    ident = layer_reference(LayerData(x, w, shift=1, act=Activation.IDENTITY))
    assert ident.tolist() == [[[127, -128, 0, 1]]]
    relu = layer_reference(LayerData(x, w, shift=0, act=Activation.RELU))
    assert relu.tolist() == [[[127, 0, 1, 2]]]
    neg = layer_reference(LayerData(np.array([[[-3]]]), np.array([[[1]]]), shift=1,
                                    act=Activation.IDENTITY))
    assert neg.tolist() == [[[-2]]]                          # arithmetic shift = floor


def test_formats_round_trip():
    rng = np.random.default_rng(3)
    x = rng.integers(-5, 5, (3, 7, 9))
    masks, ptrs, vals = compress_rows(x)
    for r, row in enumerate(x.reshape(-1, 9)):
        nz = [k for k in range(9) if masks[r] >> k & 1]
        assert nz == list(np.flatnonzero(row))
        assert vals[ptrs[r]:ptrs[r] + len(nz)] == [int(row[k]) for k in nz]
    y = rng.integers(-3, 3, (2, 4, 5))
    y[0, 1] = 0
    ent = out_entries(y)
    assert sum(e[3] for e in ent) == 8 and all(e[1] == 4 for e in ent if e[3])
    assert np.array_equal(decode_entries(ent, 2, 4, 5), y)
    with pytest.raises(ValueError, match="rows in the stream"):
        decode_entries(ent[:-1], 2, 4, 5)


def test_weight_words_and_live_bitmaps():
    w = np.zeros((1, 4, 11), dtype=np.int64)
    w[0, 1, 2] = 5        # pass 0, k 1
    w[0, 3, 9] = -1       # pass 1, k 3
    words, live = weight_words(w, 8)
    assert len(words) == passes(11, 8) * 4 and all(len(wd) == 8 for wd in words)
    assert live == [0b0010, 0b1000]
    assert words[1][2] == 5 and words[4 + 3][1] == -1
    assert words[4 + 3][3:] == [0] * 5                      # zero-padded lanes past N


def test_work_count_block_vs_unstructured():
    rng = np.random.default_rng(5)
    x = rng.random((6, 32)) < 0.5
    dense = np.ones((32, 16), dtype=bool)
    unstructured = rng.random((32, 16)) < 0.5
    block = dense.copy()
    block[::2, :8] = False                                   # half the k rows of lane group 0
    assert work_count(x, unstructured, 8) == work_count(x, dense, 8) == 2 * int(x.sum())
    assert work_count(x, block, 8) == int(x.sum()) + int(x[:, 1::2].sum())
    assert (layer_cycles(M=6, N=16, groups=1, lanes=8, work=0)
            == 6 * 16 + ROW_OVERHEAD * 12 + LAYER_OVERHEAD)
    assert ROW_OVERHEAD == FLUSH_CYCLES and LAYER_OVERHEAD == 7 + DRAIN_LATENCY


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="x shape"):
        LayerData(np.zeros((2, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="int8"):
        LayerData(np.full((1, 1), 300), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="shift"):
        LayerData(np.zeros((1, 1)), np.zeros((1, 1)), shift=40)

"""The numpy reference, the buffer formats and the cycle model, without simulation."""

import numpy as np
import pytest

from rtl.accelerator.cycle_model import layer_cycles, mask_cycles
from rtl.accelerator.layouts import Activation
from rtl.accelerator.reference import (
    LayerData,
    conv_layer,
    decode_entries,
    layer_reference,
    live_words,
    out_entries,
    row_words,
    weight_words,
)
from sw_scheduler.timing import DRAIN_LATENCY, LAYER_OVERHEAD, MAC_LATENCY, PREP_LATENCY
from traces.work import passes, work_counts


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
    for r, (row, word) in enumerate(zip(x.reshape(-1, 9), row_words(x))):
        assert [((word >> (8 * k)) & 0xFF) for k in range(9)] == [int(v) & 0xFF for v in row]
        assert word >> 72 == 0
    y = rng.integers(-3, 3, (2, 4, 11))
    y[0, 1] = 0
    ent = out_entries(y, 8)
    assert len(ent) == 2 * 4 * 2 and [e[3] for e in ent[:2]] == [0, 1]
    assert all(e[0][3:] == (0,) * 5 for e in ent[1::2])        # lanes past N are 0
    assert ent[1][2] == 8 and ent[1][1] == sum(1 << j for j, v in enumerate(ent[1][0]) if v)
    assert np.array_equal(decode_entries(ent, 2, 4, 11, 8), y)
    with pytest.raises(ValueError, match="entries, expected"):
        decode_entries(ent[:-1], 2, 4, 11, 8)
    bad = list(ent)
    bad[0] = (bad[0][0], bad[0][1] ^ 1, 0, 0)
    with pytest.raises(ValueError, match="disagrees with its values"):
        decode_entries(bad, 2, 4, 11, 8)


def test_weight_words_and_lane_bitmaps():
    w = np.zeros((1, 4, 11), dtype=np.int64)
    w[0, 1, 2] = 5        # pass 0, k 1, lane 2
    w[0, 3, 9] = -1       # pass 1, k 3, lane 1
    words = weight_words(w, 8)
    assert len(words) == passes(11, 8) * 4 and all(len(wd) == 8 for wd in words)
    assert words[1][2] == 5 and words[4 + 3][1] == -1
    assert words[4 + 3][3:] == [0] * 5                      # zero-padded lanes past N
    assert live_words(w, 8, 16) == [1 << (2 * 16 + 1), 1 << (1 * 16 + 3)]
    with pytest.raises(ValueError, match="max_k"):
        live_words(w, 8, 3)


def test_work_counts_skip_both_operands_and_count_the_busiest_lane():
    rng = np.random.default_rng(5)
    x = rng.random((6, 32)) < 0.5
    dense = np.ones((32, 16), dtype=bool)
    rows = x.sum(axis=1)
    wc = work_counts(x, dense, 8)
    assert wc == (2 * int(rows.sum()), int((rows == 0).sum()) * 2, 16 * int(rows.sum()))
    # one lane keeps all its weights, the others none: that lane sets every pass's length
    one = np.zeros((32, 16), dtype=bool)
    one[:, 3] = True
    assert work_counts(x, one, 8) == (int(rows.sum()), 6 * 1 + int((rows == 0).sum()),
                                      int(rows.sum()))
    # unstructured: each pass lasts as long as its busiest lane
    un = rng.random((32, 16)) < 0.25
    e = x.astype(int) @ un.astype(int)
    busiest = e.reshape(6, 2, 8).max(axis=2)
    assert work_counts(x, un, 8) == (int(busiest.sum()), int((busiest == 0).sum()),
                                     int(e.sum()))
    # grouped, N not a multiple of the lanes
    xg, wg = rng.random((3, 4, 5)) < 0.5, rng.random((3, 5, 11)) < 0.5
    eg = np.einsum("gmk,gkn->gmn", xg.astype(int), wg.astype(int))
    pad = np.zeros((3, 4, 16), dtype=int)
    pad[:, :, :11] = eg
    b = pad.reshape(3, 4, 2, 8).max(axis=3)
    assert work_counts(xg, wg, 8) == (int(b.sum()), int((b == 0).sum()), int(eg.sum()))


def test_cycle_model_constants():
    assert layer_cycles(work=10, empty=3) == 13 + LAYER_OVERHEAD
    assert LAYER_OVERHEAD == 3 + PREP_LATENCY + MAC_LATENCY + DRAIN_LATENCY
    x, w = np.ones((2, 3), dtype=bool), np.ones((3, 4), dtype=bool)
    assert mask_cycles(x, w, 8) == 2 * 3 + LAYER_OVERHEAD
    with pytest.raises(ValueError, match="empty"):
        layer_cycles(work=1, empty=-1)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="x shape"):
        LayerData(np.zeros((2, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="int8"):
        LayerData(np.full((1, 1), 300), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="shift"):
        LayerData(np.zeros((1, 1)), np.zeros((1, 1)), shift=40)

"""SparseEngine in Amaranth's simulator: equal to the numpy reference, cycles equal to the
cycle model exactly, and no loss/duplication under output back-pressure."""

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from rtl.accelerator.cycle_model import mask_cycles
from rtl.accelerator.engine import OUT_FIFO_DEPTH, SparseEngine
from rtl.accelerator.harness import simulate
from rtl.accelerator.layouts import Activation, Kind
from rtl.accelerator.reference import LayerData, conv_layer, layer_reference, out_entries
from sw_scheduler.timing import LAYER_OVERHEAD
from tests.support.stimulus import density_layers, rand_int8
from traces.work import work_counts

DEPTHS = {"x_rows": 128, "w_words": 512, "live_words": 32}


def _model_cycles(ly, lanes):
    return mask_cycles(ly.x != 0, ly.w != 0, lanes)


def _check(runs, layers, lanes, exact_cycles=True):
    for i, (run, ly) in enumerate(zip(runs, layers)):
        y = layer_reference(ly)
        assert run.tag == i
        assert np.array_equal(run.y, y), f"layer {i}: output differs from the reference"
        assert run.entries == out_entries(y, lanes), f"layer {i}: output stream differs"
        assert run.nnz == int(np.count_nonzero(y))
        model = _model_cycles(ly, lanes)
        if exact_cycles:
            assert run.cycles == model, f"layer {i}: rtl {run.cycles} != model {model}"
        else:
            assert run.cycles >= model


@pytest.mark.parametrize("lanes", [8, 16])
def test_fc_densities_and_corner_cases(lanes):
    rng = np.random.default_rng(lanes)
    layers = density_layers(rng)
    eng = SparseEngine(lanes=lanes, max_k=32, **DEPTHS)
    _check(simulate(eng, layers), layers, lanes)


def test_layer_kinds_conv_depthwise_attention_pruned():
    rng = np.random.default_rng(11)
    img = rand_int8(rng, (3, 6, 6), 0.5)
    conv = conv_layer(img, rand_int8(rng, (10, 3, 3, 3), 0.0), stride=1, pad=1, shift=9)
    grouped = conv_layer(rand_int8(rng, (4, 5, 5), 0.5), rand_int8(rng, (6, 2, 3, 3), 0.0),
                         stride=2, pad=1, groups=2, shift=8)
    depthwise = conv_layer(rand_int8(rng, (5, 4, 4), 0.6), rand_int8(rng, (5, 1, 3, 3), 0.0),
                           pad=1, groups=5, shift=6)
    scores = np.maximum(rand_int8(rng, (2, 5, 9), 0.0), 0)       # 2 heads, post-softmax-like >= 0
    scores[scores < 90] = 0                                  # sparse attention scores
    attention = LayerData(scores, rand_int8(rng, (2, 9, 12), 0.0), shift=7,
                          act=Activation.IDENTITY)
    w = rand_int8(rng, (20, 40), 0.0)
    pruned = LayerData(rand_int8(rng, (4, 20), 0.5), w[:, :11], shift=8)   # channel pruning
    layers = [conv, grouped, depthwise, attention, pruned]
    kinds = [Kind.CONV, Kind.CONV, Kind.CONV, Kind.ATTENTION, Kind.FC]
    assert depthwise.shape["groups"] == 5 and depthwise.shape["N"] == 1
    eng = SparseEngine(lanes=8, max_k=32, **DEPTHS)
    _check(simulate(eng, layers, kinds=kinds), layers, 8)


def test_zeros_of_both_operands_are_skipped_with_exact_load_imbalance():
    rng = np.random.default_rng(7)
    x = rand_int8(rng, (6, 24), 0.3)
    dense = rand_int8(rng, (24, 16), 0.0)
    unstructured = dense.copy()
    unstructured[rng.random(dense.shape) < 0.75] = 0
    skewed = dense.copy()
    skewed[:, 1:] = unstructured[:, 1:]                      # lane 1 keeps every weight
    layers = [LayerData(x, w, shift=8) for w in (dense, unstructured, skewed)]
    eng = SparseEngine(lanes=8, max_k=32, **DEPTHS)
    runs = simulate(eng, layers)
    _check(runs, layers, 8)
    nnz_rows = (x != 0).sum(axis=1)
    wc = [work_counts(x != 0, w != 0, 8) for w in (dense, unstructured, skewed)]
    assert wc[0].work == 2 * int(nnz_rows.sum())             # dense: every lane is busiest
    assert runs[1].cycles < runs[0].cycles                   # unstructured zeros are skipped
    # the busy lane 1 sets the length of every pass of columns 0..7
    assert wc[2].work >= int(nnz_rows.sum()) and runs[2].cycles > runs[1].cycles


def test_back_to_back_passes_hide_the_drain():
    """Rows with one effective product each: every pass takes one cycle, the drain of the
    previous pass runs meanwhile (no per-pass overhead)."""
    x = np.zeros((40, 8), dtype=np.int64)
    x[np.arange(40), np.arange(40) % 8] = 3
    x[5] = 0                                                 # an empty pass still takes one
    layers = [LayerData(x, np.full((8, 20), 2), shift=0, act=Activation.IDENTITY)]
    eng = SparseEngine(lanes=8, max_k=8, **DEPTHS)
    (run,) = simulate(eng, layers)
    _check([run], layers, 8)
    assert run.cycles == 40 * 3 + LAYER_OVERHEAD


@pytest.mark.parametrize("ready_prob,seed", [(0.3, 1), (0.75, 2)])
def test_output_backpressure_never_loses_or_duplicates(ready_prob, seed):
    rng = np.random.default_rng(seed)
    layers = [LayerData(rand_int8(rng, (6, 15), 0.4), rand_int8(rng, (15, 19), 0.1), shift=6,
                        act=Activation.IDENTITY),
              LayerData(rand_int8(rng, (2, 4, 10), 0.5), rand_int8(rng, (2, 10, 9), 0.0), shift=7),
              LayerData(np.ones((3 * OUT_FIFO_DEPTH, 1)), np.ones((1, 8)), shift=0)]
    eng = SparseEngine(lanes=8, max_k=16, **DEPTHS)
    runs = simulate(eng, layers, ready_prob=ready_prob, seed=seed)
    _check(runs, layers, 8, exact_cycles=False)
    assert any(r.cycles > _model_cycles(ly, 8) for r, ly in zip(runs, layers))


def test_response_backpressure_holds_the_response():
    rng = np.random.default_rng(9)
    layers = [LayerData(rand_int8(rng, (3, 10), 0.5), rand_int8(rng, (10, 12), 0.0), shift=6)
              for _ in range(2)]
    eng = SparseEngine(lanes=8, max_k=16, **DEPTHS)
    runs = simulate(eng, layers, resp_delay=5)
    _check(runs, layers, 8, exact_cycles=False)
    assert [r.cycles for r in runs] == [_model_cycles(ly, 8) + 5 for ly in layers]


def test_wide_engine_64_lanes():
    rng = np.random.default_rng(64)
    layers = [LayerData(rand_int8(rng, (3, 40), 0.5), rand_int8(rng, (40, 70), 0.2), shift=8)]
    eng = SparseEngine(lanes=64, max_k=40, x_rows=8, w_words=128, live_words=4)
    _check(simulate(eng, layers), layers, 64)


def test_parameter_and_capacity_errors():
    with pytest.raises(ValueError, match="lanes"):
        SparseEngine(lanes=4)
    with pytest.raises(ValueError, match="lanes"):
        SparseEngine(lanes=24)
    with pytest.raises(ValueError, match="w_words"):
        SparseEngine(w_words=0)
    eng = SparseEngine(lanes=8, max_k=8, x_rows=4, w_words=16, live_words=2)
    with pytest.raises(ValueError, match="max_k"):
        simulate(eng, [LayerData(np.ones((1, 9)), np.ones((9, 1)))])
    with pytest.raises(ValueError, match="x_rows"):
        simulate(eng, [LayerData(np.ones((5, 2)), np.ones((2, 1)))])
    Simulator(eng)        # elaborate it: an unused Elaboratable warns when collected


def test_verilog_export():
    text = verilog.convert(SparseEngine(lanes=8, max_k=16, x_rows=8, w_words=32,
                                        live_words=4), name="sparse_engine")
    for port in ("cmd__valid", "resp__payload", "out__ready", "load__payload"):
        assert port in text

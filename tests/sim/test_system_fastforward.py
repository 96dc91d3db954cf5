"""Quiescence fast-forward: the same seeded runs with and without jumping give the same
accepts, decisions and completions (and agree with the bit-exact model)."""

import pytest

from sim.npu import TraceNPU, tensor_case
from sim.system import bitexact_agreement, run_system
from sim.workload import load_workload


@pytest.mark.parametrize("seed", [0, 1])
def test_pysim_fast_forward_equivalence(seed):
    reqs, _, tables = tensor_case(n_requests=10, n_layers=3, seed=seed, gap=150)
    images = tables.to_lut_images()
    npu = TraceNPU(reqs)
    ff = run_system(reqs, images, npu, backend="pysim", num_slots=4)
    plain = run_system(reqs, images, npu, backend="pysim", num_slots=4, fast_forward=False)
    assert ff.skipped_cycles > 0 and plain.skipped_cycles == 0
    assert ff.sim_cycles < plain.sim_cycles
    assert ff.decisions == plain.decisions
    assert ff.accepts == plain.accepts
    assert ff.completions == plain.completions
    assert ff.end_cycle == plain.end_cycle
    assert bitexact_agreement(ff, reqs, images, npu, num_slots=4)["agree"]


@pytest.mark.parametrize("seed", [3, 4])
def test_verilator_fast_forward_equivalence(seed, tmp_path):
    wl = load_workload("fixture_small")
    tables = wl.static_tables()
    reqs = wl.requests(n=25, seed=seed, tables=tables)
    images = tables.to_lut_images()
    npu = TraceNPU(reqs)
    ff = run_system(reqs, images, npu, backend="verilator")
    plain = run_system(reqs, images, npu, backend="verilator", fast_forward=False)
    # most cycles are jumped over (9.3x and more on these seeds: shorter layers since the
    # datapath skips both operands' zeros leave less to jump than the former 10x)
    assert ff.skipped_cycles > 5 * ff.sim_cycles
    assert ff.decisions == plain.decisions and len(ff.decisions) > 100
    assert ff.accepts == plain.accepts
    assert ff.completions == plain.completions
    agree = bitexact_agreement(ff, reqs, images, npu)
    assert agree["agree"] and agree["completions_equal"], agree

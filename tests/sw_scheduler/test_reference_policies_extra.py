"""EDF and the SJF tie-breaks (deadline vs first come first served), on hand-built
situations and through every simulator engine."""

import numpy as np
import pytest

from sw_scheduler.records import Request
from sw_scheduler.reference import ActiveRequest, make_policy, simulate
from sw_scheduler.reference.policies import SJF
from sw_scheduler.static import StaticTables, VariantStats

ENGINES = ("scalar", "vector", "fast")


def _stats(model, cycles, nnz):
    c = np.asarray(cycles, float)
    rem = np.concatenate([np.cumsum(c[::-1])[::-1], [0.0]])
    return VariantStats(model=model, pattern="dense", mean_cycles=c, rem=rem,
                        mean_nnz=np.asarray(nnz, float), iso=float(c.sum()), n_profile=4)


def _tables():
    st = {("a", "dense"): _stats("a", [100, 100, 100, 100], [10, 10, 10, 10]),
          ("b", "dense"): _stats("b", [50, 50], [8, 8])}
    return StaticTables(models=["a", "b"], patterns=["dense"], stats=st)


def _req(tag, model="a", arrival=0, deadline=10_000, priority=1, nnz=None):
    cycles = (100, 100, 100, 100) if model == "a" else (50, 50)
    nnz = nnz or ((10,) * 4 if model == "a" else (8, 8))
    return Request(tag=tag, model=model, pattern="dense", model_id=0, pattern_id=0,
                   sample="s", arrival=arrival, deadline=deadline, priority=priority,
                   cycles=cycles, out_nnz=tuple(nnz))


def _pick(name, now, reqs, state=None):
    t = _tables()
    p = make_policy(name, t)
    act = []
    for q in reqs:
        a = ActiveRequest(q, t.get(q.model, q.pattern))
        for k, v in (state or {}).get(q.tag, {}).items():
            setattr(a, k, v)
        p.on_arrival(q.arrival, a)
        act.append(a)
    return p.select(now, act).tag


def _finishes(name, reqs):
    t = _tables()
    runs = [simulate(reqs, make_policy(name, t), engine=e) for e in ENGINES]
    assert runs[0] == runs[1] == runs[2], name
    return [(c.tag, c.finish) for c in runs[0]]


def test_edf_vs_sjf():
    long_early = _req(0, deadline=500)              # rem 400, deadline 500
    short_late = _req(1, model="b", deadline=900)   # rem 100, deadline 900
    assert _pick("edf", 0, [long_early, short_late]) == 0
    assert _pick("sjf", 0, [long_early, short_late]) == 1
    assert _finishes("edf", [long_early, short_late]) == [(0, 400), (1, 500)]
    assert _finishes("sjf", [long_early, short_late]) == [(1, 100), (0, 500)]


def test_edf_vs_fcfs():
    first_late = _req(0, arrival=0, deadline=5000)
    later_urgent = _req(1, model="b", arrival=10, deadline=300)
    assert _pick("fcfs", 10, [first_late, later_urgent]) == 0
    assert _pick("edf", 10, [first_late, later_urgent]) == 1
    # EDF preempts at the first layer boundary after the urgent arrival (cycle 100)
    assert _finishes("fcfs", [first_late, later_urgent]) == [(0, 400), (1, 500)]
    assert _finishes("edf", [first_late, later_urgent]) == [(1, 200), (0, 500)]


def test_edf_ties_arrival_then_tag():
    a = _req(5, arrival=3, deadline=1000)
    b = _req(2, arrival=3, deadline=1000)
    c = _req(1, arrival=4, deadline=1000)
    assert _pick("edf", 10, [a, b, c]) == 2
    assert _pick("edf", 10, [a, c]) == 5


def test_sjf_ties_by_deadline_vs_fcfs():
    """Equal estimates (same variant, same layer): ``sjf`` runs the earlier deadline,
    ``sjf-fcfs`` the earlier arrival."""
    early_late = _req(0, arrival=0, deadline=9000)
    later_urgent = _req(1, arrival=5, deadline=2000)
    both = [early_late, later_urgent]
    assert _pick("sjf", 10, both) == 1
    assert _pick("sjf-fcfs", 10, both) == 0
    assert _pick("sjf-sparse", 10, both) == 1     # equal gamma * rem: deadline too
    # both present from the start: the deadline wins the tie
    same_time = [_req(0, arrival=0, deadline=9000), _req(1, arrival=0, deadline=2000)]
    assert _finishes("sjf", same_time) == [(1, 400), (0, 800)]
    assert _finishes("sjf-sparse", same_time) == [(1, 400), (0, 800)]
    assert _finishes("sjf-fcfs", same_time) == [(0, 400), (1, 800)]


def test_sjf_equal_estimate_and_deadline_falls_back_to_arrival_then_tag():
    a = _req(4, arrival=2, deadline=3000)
    b = _req(3, arrival=2, deadline=3000)
    c = _req(1, arrival=3, deadline=3000)
    assert _pick("sjf", 10, [a, b, c]) == 3
    assert _pick("sjf", 10, [a, c]) == 4


def test_sjf_sparse_tie_on_gamma_scaled_estimate():
    # b at layer 2 with gamma 2 (rem 2 * 200 = 400) ties a at layer 0 (rem 400)
    a = _req(0, arrival=0, deadline=8000)
    b = _req(1, arrival=1, deadline=3000)
    st = {1: {"layer": 2, "gamma": 2.0}}
    assert _pick("sjf-sparse", 5, [a, b], st) == 1
    assert _pick("sjf", 5, [a, b], st) == 1                     # 200 < 400: no tie
    assert _pick("sjf-sparse", 5, [a, _req(1, arrival=1, deadline=9000)], st) == 0


def test_sjf_ties_argument():
    with pytest.raises(ValueError, match="ties"):
        SJF(_tables(), ties="lifo")
    assert make_policy("sjf", _tables()).ties == ("deadline",)
    assert make_policy("sjf-fcfs", _tables()).ties == ()


def test_busy_gamma_is_ratio_of_sums():
    from sw_scheduler.reference.core import gamma_step

    g, s, n = gamma_step("busy", 100.0, 150, 0.0, 0.0)
    assert g == 1.5
    g, s, n = gamma_step("busy", 300.0, 250, s, n)           # (150 + 250) / (100 + 300)
    assert g == pytest.approx(1.0) and (s, n) == (400.0, 400.0)
    assert gamma_step("busy", 0.0, 99, s, n) == (None, s, n)  # no mean: no information
    # a running mean of the ratios would be (1.5 + 0.8333) / 2, not the ratio of sums
    assert gamma_step("mean", 300.0, 250, 1.5, 1)[0] == pytest.approx((1.5 + 250 / 300) / 2)


def test_busy_and_nnz_predictors_schedule_differently():
    from sim.workload import load_workload

    wl = load_workload("fixture_mix")
    t = wl.static_tables()
    reqs = wl.requests(n=400, seed=5, rate=30000, tables=t)
    busy = simulate(reqs, make_policy("dysta-busy", t))
    nnz = simulate(reqs, make_policy("dysta", t))
    assert [c.tag for c in busy] != [c.tag for c in nnz]

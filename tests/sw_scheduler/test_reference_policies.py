"""Reference schedulers: each policy's choice on hand-built situations, simulator timeline,
gamma semantics and conservation."""

import numpy as np
import pytest

from sim.workload import Request
from sw_scheduler.reference import ActiveRequest, make_policy, policy_names, simulate
from sw_scheduler.static import StaticTables, VariantStats


def _stats(model, pattern, cycles, nnz, iso=None):
    c = np.asarray(cycles, float)
    rem = np.concatenate([np.cumsum(c[::-1])[::-1], [0.0]])
    return VariantStats(model=model, pattern=pattern, mean_cycles=c, rem=rem,
                        mean_nnz=np.asarray(nnz, float), iso=float(iso or c.sum()), n_profile=4)


def _tables(**kw):
    st = {
        ("a", "dense"): _stats("a", "dense", [100, 100, 100, 100], [10, 10, 0, 10]),
        ("a", "sparse"): _stats("a", "sparse", [20, 20, 20, 20], [5, 5, 5, 5]),
        ("b", "dense"): _stats("b", "dense", [50, 50], [8, 8]),
    }
    return StaticTables(models=["a", "b"], patterns=["dense", "sparse"], stats=st, **kw)


def _req(tag, model="a", pattern="dense", arrival=0, deadline=10_000, priority=1,
         cycles=(100, 100, 100, 100), nnz=(10, 10, 10, 10)):
    return Request(tag=tag, model=model, pattern=pattern, model_id=0, pattern_id=0,
                   sample="s", arrival=arrival, deadline=deadline, priority=priority,
                   cycles=tuple(cycles), out_nnz=tuple(nnz))


def _active(tables, req, *, layer=0, last_run=None, gamma=1.0):
    a = ActiveRequest(req, tables.get(req.model, req.pattern))
    a.layer = layer
    a.last_run = req.arrival if last_run is None else last_run
    a.gamma = gamma
    return a


def _pick(name, tables, now, active):
    p = make_policy(name, tables)
    for a in active:
        a.stats = p.tables.get(a.model, a.pattern)    # as simulate() does
        p.on_arrival(a.arrival, a)
    return p.select(now, active).tag


def test_all_names_registered():
    assert policy_names() == ["fcfs", "sjf", "sjf-sparse", "sjf-fcfs", "edf", "prema",
                              "prema-sparse", "planaria", "sdrm3", "sdrm3-sparse", "dysta",
                              "dysta-last", "dysta-busy", "dysta-nopattern", "dysta-oracle"]
    with pytest.raises(ValueError, match="unknown scheduler 'nope'"):
        make_policy("nope", _tables())


def test_fcfs_vs_sjf():
    t = _tables()
    long_ = _active(t, _req(0, arrival=0))                        # rem 400
    short = _active(t, _req(1, model="b", arrival=5, cycles=(50, 50), nnz=(8, 8)))  # rem 100
    assert _pick("fcfs", t, 10, [long_, short]) == 0
    assert _pick("sjf", t, 10, [long_, short]) == 1


def test_sjf_vs_sjf_sparse_uses_gamma():
    t = _tables()
    a = _active(t, _req(0, model="b", cycles=(50, 50), nnz=(8, 8)), gamma=5.0)  # 100 -> 500
    b = _active(t, _req(1, arrival=1), layer=1)                                  # 300
    assert _pick("sjf", t, 10, [a, b]) == 0
    assert _pick("sjf-sparse", t, 10, [a, b]) == 1


def test_prema_priority_tokens_vs_sjf():
    t = _tables()
    hi = _active(t, _req(0, priority=9))                                         # long, prio 9
    lo = _active(t, _req(1, model="b", priority=1, cycles=(50, 50), nnz=(8, 8)))
    assert _pick("sjf", t, 0, [hi, lo]) == 1
    assert _pick("prema", t, 0, [hi, lo]) == 0
    # equal priorities: PREMA falls back to the shortest estimate
    hi2 = _active(t, _req(2, priority=1))
    assert _pick("prema", t, 0, [hi2, lo]) == 1


def test_prema_tokens_grow_with_waiting():
    t = _tables()
    p = make_policy("prema", t)
    a = _active(t, _req(0, priority=3))          # iso 400
    b = _active(t, _req(1, model="b", priority=1, cycles=(50, 50), nnz=(8, 8)))
    for r in (a, b):
        p.on_arrival(0, r)
    assert p.select(0, [a, b]) is a              # token 3 >= threshold 3, b has 1
    # b waits 600 cycles: token 1 + 1 * 600 / 100 = 7; a ran until now (last_run = now)
    a.last_run = 600
    assert p.select(600, [a, b]) is b
    assert b.token == pytest.approx(7.0) and a.token == pytest.approx(3.0)


def test_planaria_priority_over_slack():
    t = _tables()
    # a: prio 1, slack 1000-0-400=600 -> 1/600 ; b: prio 3, slack 1500-100=1400 -> 3/1400
    a = _active(t, _req(0, priority=1, deadline=1000))
    b = _active(t, _req(1, model="b", priority=3, deadline=1500, cycles=(50, 50), nnz=(8, 8)))
    assert _pick("planaria", t, 0, [a, b]) == 1
    a2 = _active(t, _req(2, priority=1, deadline=700))      # slack 300 -> 1/300 > 3/1400
    assert _pick("planaria", t, 0, [a2, b]) == 2
    # late requests: slack floored at 1 -> priority decides
    late = _active(t, _req(3, priority=9, deadline=10, arrival=0))
    assert _pick("planaria", t, 0, [a2, late]) == 3


def test_sdrm3_fairness_and_sparse():
    t = _tables()
    # a waited 300 cycles for a 100-cycle next layer: fairness 3 ; b urgent (1.0) but fresh
    a = _active(t, _req(0, arrival=0, deadline=100_000), last_run=0)
    b = _active(t, _req(1, model="b", arrival=290, deadline=300, cycles=(50, 50), nnz=(8, 8)))
    assert _pick("sdrm3", t, 300, [a, b]) == 0
    # sparse: gamma shrinks a's next-layer estimate -> fairness grows; b's rem grows
    a3 = _active(t, _req(3, arrival=0, deadline=100_000), last_run=250, gamma=1.0)
    b3 = _active(t, _req(4, model="b", arrival=300, deadline=10_000, cycles=(50, 50),
                         nnz=(8, 8)), gamma=1.0)
    # a3: 400/99700 + 50/100 = 0.504 ; b3: 100/9700 + 0 = 0.0103 -> a3
    assert _pick("sdrm3", t, 300, [a3, b3]) == 3
    a3.gamma = 10.0   # next layer 1000 -> fairness 0.05, urgency 0.04 -> 0.09
    b3.gamma = 200.0  # rem 20000 > slack -> urgency 1 -> b3 wins
    assert _pick("sdrm3-sparse", t, 300, [a3, b3]) == 4
    assert _pick("sdrm3", t, 300, [a3, b3]) == 3


def test_dysta_score_formula_and_choice():
    t = _tables(clock_hz=1000, beta=0.01, kappa_s=1.0)   # kappa = 1000 cycles
    p = make_policy("dysta", t)
    a = _active(t, _req(0, deadline=1000), layer=1, last_run=50, gamma=1.5)
    # rem = 1.5*300 = 450, urgency = 1000-100-450 = 450, penalty = 50/400/2
    want = 450 + 0.01 * (450 + 1000 * 50 / 400 / 2)
    assert p.key(100, a, 2) == pytest.approx(want)


def test_dysta_vs_oracle_vs_nopattern():
    t = _tables()
    # true remaining of a is tiny (sample far sparser than the mean): the oracle knows
    a = _active(t, _req(0, cycles=(100, 1, 1, 1)), layer=1)        # mean rem 300, true 3
    a.rem_true = 3
    b = _active(t, _req(1, model="b", cycles=(50, 50), nnz=(8, 8)))  # rem 100
    assert _pick("dysta", t, 0, [a, b]) == 1
    assert _pick("dysta-oracle", t, 0, [a, b]) == 0
    # pattern-averaged tables: a/sparse (rem 80) looks like (400+80)/2=240 > b's 100
    s = _active(t, _req(2, pattern="sparse", cycles=(20, 20, 20, 20), nnz=(5, 5, 5, 5)))
    assert _pick("dysta", t, 0, [s, b]) == 2
    assert _pick("dysta-nopattern", t, 0, [s, b]) == 1


def test_gamma_running_mean_last_value_and_skip():
    t = _tables(clock_hz=1000)          # small kappa: the remaining estimate dominates
    mean_p, last_p = make_policy("dysta", t), make_policy("dysta-last", t)
    am = _active(t, _req(0))
    al = _active(t, _req(1))
    assert am.gamma == al.gamma == 1.0
    for j, nnz in enumerate([20, 5, 99, 10]):           # means 10, 10, 0 (skipped), 10
        mean_p.on_layer_done(0, am, j, nnz)
        last_p.on_layer_done(0, al, j, nnz)
        if j == 1:
            assert am.gamma == pytest.approx(1.25) and al.gamma == pytest.approx(0.5)
    assert am.gamma == pytest.approx((2.0 + 0.5 + 1.0) / 3)
    assert al.gamma == pytest.approx(1.0)
    # different gammas -> different choices
    other = _active(t, _req(2, arrival=1, cycles=(100, 100, 100, 100)), layer=2)   # rem 200
    am.layer = al.layer = 1
    am.gamma, al.gamma = 1.25, 0.5       # rem 375 vs 150
    assert mean_p.select(1, [am, other]) is other
    assert last_p.select(1, [al, other]) is al


def test_simulate_timeline_fcfs_vs_sjf():
    t = _tables()
    r0 = _req(0, arrival=0, cycles=(100, 100, 100, 100))
    r1 = _req(1, model="b", arrival=5, cycles=(50, 50), nnz=(8, 8))
    f = {c.tag: c.finish for c in simulate([r1, r0], make_policy("fcfs", t))}
    assert f == {0: 400, 1: 500}
    s = {c.tag: c.finish for c in simulate([r0, r1], make_policy("sjf", t))}
    assert s == {1: 200, 0: 500}       # decision at 100: rem 300 vs 100
    # idle gap: a request arriving after everything finished starts at its arrival
    r2 = _req(2, model="b", arrival=10_000, cycles=(50, 50), nnz=(8, 8))
    g = {c.tag: c.finish for c in simulate([r0, r2], make_policy("dysta", t))}
    assert g == {0: 400, 2: 10_100}


def test_simulate_conservation_random_all_policies():
    rng = np.random.default_rng(3)
    t = _tables()
    reqs = []
    arr = 0
    for tag in range(80):
        arr += int(rng.integers(0, 300))
        if rng.random() < 0.5:
            reqs.append(_req(tag, arrival=arr, priority=int(rng.choice([1, 3, 9])),
                             deadline=arr + 2000,
                             cycles=tuple(int(x) for x in rng.integers(10, 200, 4)),
                             nnz=tuple(int(x) for x in rng.integers(0, 20, 4))))
        else:
            reqs.append(_req(tag, model="b", arrival=arr, deadline=arr + 1000,
                             cycles=tuple(int(x) for x in rng.integers(10, 100, 2)),
                             nnz=(3, 9)))
    total = sum(sum(r.cycles) for r in reqs)
    finishes = {}
    for name in policy_names():
        done = simulate(reqs, make_policy(name, t))
        assert sorted(c.tag for c in done) == list(range(80))
        assert all(c.finish >= c.arrival + c.iso for c in done)
        # work conserving: the last finish is the same for every policy
        finishes[name] = max(c.finish for c in done)
        assert max(c.finish for c in done) >= total
    assert len(set(finishes.values())) == 1
    with pytest.raises(ValueError, match="unique"):
        simulate([reqs[0], reqs[0]], make_policy("fcfs", t))


def test_scalar_and_vector_engines_agree():
    """The vectorised engine gives exactly the scalar engine's schedule for every policy."""
    from sim.workload import load_workload
    wl = load_workload("fixture_mix")
    t = wl.static_tables()
    for rate in (8000.0, 30000.0):                      # light and overloaded
        reqs = wl.requests(rate=rate, slo=3.0, n=150, seed=5, tables=t)
        for name in policy_names():
            a = simulate(reqs, make_policy(name, t), engine="scalar")
            b = simulate(reqs, make_policy(name, t), engine="vector")
            assert a == b, (rate, name)
    with pytest.raises(ValueError, match="engine"):
        simulate(reqs, make_policy("fcfs", t), engine="gpu")


def test_subclass_overriding_select_is_called():
    """A wrapper that overrides select() (e.g. to shadow another model) sees every call."""
    from sw_scheduler.reference.policies import Dysta
    t = _tables()
    calls = []

    class Shadow(Dysta):
        def select(self, now, active):
            calls.append(len(active))
            return super().select(now, active)

    reqs = [_req(0, arrival=0), _req(1, model="b", arrival=5, cycles=(50, 50), nnz=(8, 8))]
    a = simulate(reqs, Shadow(t))
    assert calls and max(calls) == 2
    assert a == simulate(reqs, make_policy("dysta", t))


def test_prema_vs_prema_sparse():
    t = _tables()
    # equal priorities (tokens 1): the shorter estimate runs; gamma flips the estimate
    a = _active(t, _req(0, model="b", cycles=(50, 50), nnz=(8, 8)), gamma=4.0)  # 100 -> 400
    b = _active(t, _req(1, arrival=1), layer=1)                                  # 300
    assert _pick("prema", t, 1, [a, b]) == 0
    a.token = b.token = 0.0
    assert _pick("prema-sparse", t, 1, [a, b]) == 1

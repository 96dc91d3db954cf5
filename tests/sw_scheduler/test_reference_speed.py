"""The fast reference engine gives exactly the scalar engine's schedule (every policy, light
load and overload, real scenario), hands large active sets to the vector kernels and back
without changing anything, and its work per request does not grow with the run length."""

import pytest

from sim.workload import load_workload
from sw_scheduler.reference import core, make_policy, policy_names, simulate
from sw_scheduler.reference.policies import SJF, Dysta
from traces.format import TraceError


@pytest.fixture(scope="module")
def fixture_mix():
    wl = load_workload("fixture_mix")
    return wl, wl.static_tables()


def _same_as_scalar(reqs, tables, names=None):
    for name in names or policy_names():
        want = simulate(reqs, make_policy(name, tables), engine="scalar")
        got = simulate(reqs, make_policy(name, tables), engine="fast")
        assert got == want, name        # same tags, finish cycles and order


@pytest.mark.parametrize("rate,seed", [(8000.0, 0), (8000.0, 7), (30000.0, 1)])
def test_fast_matches_scalar_fixture(fixture_mix, rate, seed):
    wl, t = fixture_mix
    reqs = wl.requests(rate=rate, n=300, seed=seed, tables=t)
    _same_as_scalar(reqs, t)
    if rate > 10000:               # overloaded: the active set grows past _VEC_ON
        done = simulate(reqs, make_policy("fcfs", t))
        in_system = max(sum(c.arrival <= a < c.finish for c in done) for a in
                        (c.arrival for c in done))
        assert in_system > core._VEC_ON


def test_fast_matches_scalar_arvr():
    try:
        wl = load_workload("arvr")
    except TraceError as e:
        pytest.skip(f"arvr scenario does not load: {e}")
    t = wl.static_tables()
    _same_as_scalar(wl.requests(n=300, seed=3, tables=t), t)


@pytest.mark.parametrize("on,off", [(2, 1), (3, 2), (6, 3)])
def test_vector_handoff_changes_nothing(fixture_mix, monkeypatch, on, off):
    """Tiny thresholds: the scan policies switch between the Python rule and the vector
    kernel constantly (PREMA's tokens travel with them)."""
    monkeypatch.setattr(core, "_VEC_ON", on)
    monkeypatch.setattr(core, "_VEC_OFF", off)
    wl, t = fixture_mix
    for rate in (12000.0, 30000.0):
        _same_as_scalar(wl.requests(rate=rate, n=200, seed=4, tables=t), t)


def test_engine_choice(fixture_mix):
    wl, t = fixture_mix
    reqs = wl.requests(n=60, seed=0, tables=t)
    for name in policy_names():
        assert core._fast_ok(make_policy(name, t)), name

    class Outside(Dysta):                   # may change score(): not the package's rule
        def score(self, now, x, n_active):
            return -super().score(now, x, n_active)

    p = Outside(t)
    assert not core._fast_ok(p)
    with pytest.raises(ValueError, match="fast"):
        simulate(reqs, p, engine="fast")
    assert simulate(reqs, p) == simulate(reqs, Outside(t), engine="scalar")
    q = make_policy("dysta", t)
    q.score = lambda now, x, n_active: x.arrival * 1.0      # instance-level override
    assert not core._fast_ok(q)
    assert simulate(reqs, q) == simulate(reqs, make_policy("fcfs", t))
    s = SJF(t)
    s.ties = ("priority",)                  # a tie rule the fast kernel does not know
    assert s._fast_kernel() is None
    assert simulate(reqs, s) == simulate(reqs, s, engine="scalar")


def _work_per_request(wl, t, name, n):
    """Active jobs examined by the rule (sum over decisions) per request."""
    p = make_policy(name, t)
    kern = p._fast_kernel()
    seen = [0]
    if kern.pick is not None:
        pick = kern.pick

        def counting(now, act):
            seen[0] += len(act)
            return pick(now, act)
        kern.pick = counting
    else:
        key = kern.key

        def counting(r):
            seen[0] += 1
            return key(r)
        kern.key = counting
    p._fast_kernel = lambda: kern
    reqs = wl.requests(rate=8000.0, n=n, seed=0, tables=t)
    core._run_fast(sorted(reqs, key=lambda q: (q.arrival, q.tag)), p, kern)
    return seen[0] / n


def test_work_per_request_flat_in_run_length(fixture_mix):
    """No O(n) per decision: the decision work per request at a stable load is the same
    for a short and an 8x longer run (statistical noise only)."""
    wl, t = fixture_mix
    for name in ("sjf", "prema", "dysta"):
        short = _work_per_request(wl, t, name, 500)
        long_ = _work_per_request(wl, t, name, 4000)
        assert long_ < 1.5 * short, (name, short, long_)

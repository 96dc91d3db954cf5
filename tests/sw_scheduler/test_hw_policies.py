"""The bit-exact keys of the hardware policies on hand-computed cases: orders, tie-breaks,
wrap-around, saturation, and the reciprocal-table division's error bound."""

import numpy as np
import pytest

from sw_scheduler import formats as F
from sw_scheduler.hw_policies import (
    DIV_FRAC,
    DIV_INDEX_BITS,
    HW_POLICIES,
    SDRM3_WIDTH,
    deadline_key,
    hw_policy,
    older_key,
    qdiv,
)
from sw_scheduler.reference import policy_names
from sw_scheduler.timing import SCORE_LATENCIES

TW = 32
KAPPA = 1000
ONE = 1 << F.GAMMA.frac


def key(policy, t, *, rem=0, nrem=0, kinv=0, **row):
    base = {"tag": 0, "model": 0, "pattern": 0, "layer": 0, "priority": 0, "deadline": 0,
            "arrival": 0, "last_run": 0, "vstart": 0, "gamma": ONE, "gamma_sum": 0,
            "count": 0}
    return hw_policy(policy).key(
        t=t, row={**base, **row}, var={"n_layers": 4, "kinv_iso": kinv},
        lay={"rem": rem, "inv_nnz": 0}, nxt={"rem": nrem, "inv_nnz": 0},
        recip_n=1 << 16, beta=1 << 16, kappa=KAPPA, time_width=TW, score_width=40)


def test_registry_matches_references_and_timing():
    assert set(HW_POLICIES) <= set(policy_names())       # every -hw row has a float twin
    assert set(HW_POLICIES) == set(SCORE_LATENCIES)
    for p in HW_POLICIES.values():
        assert p.key_width(TW, 40) > 0 and p.doc
    with pytest.raises(ValueError, match="unknown hardware policy 'lifo'"):
        hw_policy("lifo")


def test_time_keys_wrap():
    t = (1 << TW) - 10                                     # just before the wrap
    assert deadline_key(t, 5, TW) > deadline_key(t, t - 3, TW)     # 15 ahead vs 3 late
    assert older_key(t, t - 100, TW) < older_key(t, t - 1, TW)      # older is smaller
    assert older_key(t, 20, TW) == (1 << (TW - 1)) - 1              # "future" stamp: age 0


def test_fcfs_edf_sjf_orders():
    t = 5000
    assert key("fcfs", t, arrival=100) < key("fcfs", t, arrival=200)
    assert key("edf", t, deadline=6000) < key("edf", t, deadline=7000)
    # SJF: REM first, the deadline breaks a tie of REM
    assert key("sjf", t, rem=10, deadline=9000) < key("sjf", t, rem=11, deadline=5001)
    assert key("sjf", t, rem=10, deadline=5001) < key("sjf", t, rem=10, deadline=9000)
    # SJF-sparse: gamma 0.5 halves REM
    assert key("sjf-sparse", t, rem=30, gamma=ONE // 2) < key("sjf-sparse", t, rem=20)


def test_prema_levels():
    t = 100_000
    kinv = 1 << F.KINV_ISO.frac                     # x = wait cycles (iso = kappa)
    w = F.REM.width + TW - 1

    def level(prio, waited):
        return 2 - (key("prema", t, vstart=t - waited, kinv=kinv, priority=prio) >> w)

    assert [level(2, 0), level(1, 0), level(0, 0)] == [2, 1, 0]
    assert level(1, 2 * KAPPA - 1) == 1 and level(1, 2 * KAPPA) == 2      # 3 -> 9
    assert level(0, 2 * KAPPA) == 1 and level(0, 8 * KAPPA - 1) == 1      # 1 -> 3
    assert level(0, 8 * KAPPA) == 2                                       # 1 -> 9
    # same level: shorter REM first, then the older acceptance
    assert key("prema", t, rem=5, arrival=9) < key("prema", t, rem=6, arrival=1)
    assert key("prema", t, rem=5, arrival=1) < key("prema", t, rem=5, arrival=9)


def test_planaria_exact_priority_over_slack():
    t, d = 1000, 1000 + 900
    # slack 900: priority 9 (index 2) -> 900, priority 3 -> 2700, priority 1 -> 8100
    hi = [key("planaria", t, deadline=d, rem=0, priority=p) >> (TW - 1) for p in (2, 1, 0)]
    assert hi == [900, 2700, 8100]
    # 1/300 == 3/900: equal, the earlier acceptance wins
    a = key("planaria", t, deadline=t + 300, priority=0, arrival=50)
    b = key("planaria", t, deadline=t + 900, priority=1, arrival=40)
    assert b < a and a >> (TW - 1) == b >> (TW - 1)
    # late requests: slack floored at 1
    assert key("planaria", t, deadline=t - 50, rem=7) >> (TW - 1) == 9


def test_sdrm3_urgency_and_fairness():
    t = 10_000
    smax = (1 << SDRM3_WIDTH) - 1

    def s(**kw):
        return smax - (key("sdrm3", t, **kw) >> (TW - 1))

    one = 1 << DIV_FRAC
    assert s(deadline=t - 1, rem=5, nrem=5, last_run=t) == one     # late: urgency 1
    assert abs(s(deadline=t + 400, rem=100, nrem=100, last_run=t) - one // 4) <= 1
    # fairness = wait / (REM[l] - REM[l+1]) = 300 / 100 = 3.0
    assert abs(s(deadline=t - 1, rem=100, nrem=0, last_run=t - 300) - 4 * one) <= 1
    # sparse: gamma 2.0 doubles REM and the step
    sp = smax - (key("sdrm3-sparse", t, deadline=t + 400, rem=100, nrem=100, last_run=t,
                     gamma=2 * ONE) >> (TW - 1))
    assert abs(sp - one // 2) <= 1


def test_qdiv_error_bound():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        b = int(rng.integers(1, 1 << int(rng.integers(1, 33))))
        a = int(rng.integers(0, 1 << 32))
        q = qdiv(a, b, 64)
        exact = (a << DIV_FRAC) / b
        assert exact * (1 - 2.0 ** -17) - 1 <= q <= exact * (1 + 2.0 ** -DIV_INDEX_BITS), (a, b)
    assert qdiv(1 << 31, 1, 20) == (1 << 20) - 1               # saturates

"""Shape buckets: the host knows the input size at arrival; the static tables get one
entry per size bucket, deadlines stay per variant."""

import numpy as np
import pytest

from sim.workload import load_workload
from sw_scheduler.reference import make_policy, simulate
from traces.format import TraceError


@pytest.fixture(scope="module")
def pair():
    return load_workload("assistant"), load_workload("assistant", shape_buckets=4)


def test_bucket_entries_and_unchanged_deadlines(pair):
    plain, bucketed = pair
    tp, tb = plain.static_tables(), bucketed.static_tables()
    shaped = [(m.name, p) for m in plain.models for p in m.patterns
              if plain.variant(m.name, p).shape is not None]
    assert shaped, "the assistant scenario has variants with per-sample input sizes"
    for m, p in shaped:
        keys = bucketed.shape_keys(m, p)
        v = bucketed.variant(m, p)
        assert len(set(keys)) > 1
        # buckets are ordered by size: a larger size never lands in a lower bucket
        order = np.argsort(v.shape, kind="stable")
        idx = [int(k.rpartition("@")[2]) for k in keys[order]]
        assert idx == sorted(idx)
        assert (m, keys[0]) in tb.stats and tb.get(m, p).iso == tp.get(m, p).iso
    rp = plain.requests(n=300, seed=2, tables=tp)
    rb = bucketed.requests(n=300, seed=2, tables=tb)
    assert [r.deadline for r in rp] == [r.deadline for r in rb]
    assert [r.cycles for r in rp] == [r.cycles for r in rb]
    assert any("@" in r.pattern for r in rb) and not any("@" in r.pattern for r in rp)


def test_buckets_change_the_estimates_and_the_schedule(pair):
    plain, bucketed = pair
    tp, tb = plain.static_tables(), bucketed.static_tables()
    rp = plain.requests(n=600, seed=1, rate=1.73, slo=5, tables=tp)
    rb = bucketed.requests(n=600, seed=1, rate=1.73, slo=5, tables=tb)
    a = simulate(rp, make_policy("sjf", tp))
    b = simulate(rb, make_policy("sjf", tb))
    assert [c.tag for c in a] != [c.tag for c in b]


def test_bad_bucket_count():
    with pytest.raises(TraceError, match="shape_buckets"):
        load_workload("fixture_mix", shape_buckets=-1)

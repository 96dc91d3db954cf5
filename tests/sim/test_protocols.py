"""Comparison protocols: `fair` and `paper` differ exactly where docs/scheduling.md says."""

import json

import numpy as np
import pytest

from sim.cli import main
from sim.protocols import PAPER_SAMPLES, get_protocol
from sim.workload import load_workload
from sw_scheduler.reference import make_policy, simulate


@pytest.fixture(scope="module")
def both():
    return load_workload("fixture_mix"), load_workload("fixture_mix", protocol="paper")


def test_sampling_rules(both):
    fair, paper = both
    for spec in fair.models:
        for p in spec.patterns:
            prof_f, held_f = fair.split(spec.name, p)
            prof_p, held_p = paper.split(spec.name, p)
            assert not set(prof_f) & set(held_f)                       # fair: disjoint split
            n = fair.variant(spec.name, p).n_samples
            assert list(prof_p) == list(range(n))                      # paper: tables on all
            assert list(held_p) == list(range(min(PAPER_SAMPLES, n)))  # requests: first 7
    reqs = paper.requests(n=200, seed=3)
    for r in reqs:
        assert paper.variant(r.model, r.pattern).samples.index(r.sample) < PAPER_SAMPLES


def test_slo_target_per_variant_vs_per_model(both):
    fair, paper = both
    tf, tp = fair.static_tables(), paper.static_tables()
    rf = fair.requests(n=100, seed=1, slo=5.0, tables=tf)
    rp = paper.requests(n=100, seed=1, slo=5.0, tables=tp)
    assert [r.arrival for r in rf] == [r.arrival for r in rp]       # same arrivals and mix
    for a, b in zip(rf, rp):
        assert a.deadline == a.arrival + round(5.0 * tf.get(a.model, a.pattern).iso)
        isos = [tp.get(b.model, p).iso for p in tp.model_patterns[b.model]]
        assert b.deadline == b.arrival + round(5.0 * float(np.mean(isos)))
    assert [r.deadline - r.arrival for r in rf] != [r.deadline - r.arrival for r in rp]


def test_baselines_pattern_unaware_only_under_paper():
    fair, paper = get_protocol("fair"), get_protocol("paper")
    assert fair.uses_pattern_tables("sjf") and fair.uses_pattern_tables("dysta")
    assert not paper.uses_pattern_tables("sjf") and not paper.uses_pattern_tables("edf")
    assert paper.uses_pattern_tables("dysta") and paper.uses_pattern_tables("dysta-oracle")
    wl = load_workload("fixture_mix")
    t = wl.static_tables()
    reqs = wl.requests(n=300, seed=2, rate=9000, tables=t)
    aware = simulate(reqs, make_policy("sjf", t))
    unaware = simulate(reqs, make_policy("sjf", t.pattern_averaged()))
    assert [c.tag for c in aware] != [c.tag for c in unaware]


def test_cli_records_protocol(tmp_path):
    for proto in ("fair", "paper"):
        assert main(["run", "--workload", "fixture_mix", "--n", "40", "--sched", "edf,sjf,dysta",
                     "--backend", "reference", "--protocol", proto,
                     "--out", str(tmp_path / proto)]) == 0
        res = json.loads((tmp_path / proto / "fixture_mix" / "results.json").read_text())
        assert res["config"]["protocol"] == proto
    with pytest.raises(SystemExit):
        main(["run", "--workload", "fixture_mix", "--protocol", "nope"])
    with pytest.raises(ValueError, match="unknown protocol 'nope'"):
        load_workload("fixture_mix", protocol="nope")

"""Workload loading/validation (each malformed input -> a clear error), split, requests."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.workload import load_workload, resolve_workload
from traces.format import TRACE_ROOT, TraceError

FIX = TRACE_ROOT / "fixtures"
GOOD = """
name = "t"
traces = "set"
clock_hz = 1000
num_requests = 50
seed = 3
profile_fraction = 0.5
rates = [2.0]
slo_multipliers = [4.0]
[[models]]
name = "fx_mlp"
patterns = ["dense", "block50"]
weight = 1.0
priorities = [1, 9]
"""


@pytest.fixture
def root(tmp_path):
    """A private trace root with a copy of one fixture model."""
    shutil.copytree(FIX / "fx_mlp", tmp_path / "set" / "fx_mlp")
    return tmp_path


def _write(root, text, name="w.toml"):
    p = root / name
    p.write_text(text)
    return p


def test_load_good(root):
    wl = load_workload(_write(root, GOOD), trace_root=root)
    assert wl.name == "t" and wl.clock_hz == 1000 and wl.rates == (2.0,)
    assert [m.name for m in wl.models] == ["fx_mlp"]
    assert set(wl.variants) == {("fx_mlp", "dense"), ("fx_mlp", "block50")}


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.replace('name = "t"\n', ""), r"missing field 'name'"),
    (lambda s: s.replace("clock_hz = 1000", 'clock_hz = "fast"'),
     r"field 'clock_hz' must be int, got 'fast'"),
    (lambda s: s.replace("num_requests = 50", "num_requests = -5"),
     r"field 'num_requests' must be an integer in \[1, 1e\+06\], got -5"),
    (lambda s: s.replace("rates = [2.0]", "rates = [2.0, -1]"), r"field 'rates'.*-1"),
    (lambda s: s.replace("profile_fraction = 0.5", "profile_fraction = 1.5"),
     r"'profile_fraction' must be in \(0, 1\), got 1.5"),
    (lambda s: s.replace('traces = "set"', 'traces = "nowhere"'),
     r"field 'traces' = 'nowhere': no trace directory"),
    (lambda s: s.replace('name = "fx_mlp"', 'name = "resnet9000"'),
     r"models\[0\]: field 'name' = 'resnet9000': unknown model.*known: fx_mlp"),
    (lambda s: s.replace('"block50"]', '"block99"]'),
     r"models\[0\]: field 'patterns' value 'block99': unknown pattern of model 'fx_mlp'"),
    (lambda s: s.replace("priorities = [1, 9]", "priorities = [1, 0]"),
     r"models\[0\]: field 'priorities'"),
    (lambda s: s.replace("weight = 1.0", "weight = true"),
     r"models\[0\]: field 'weight' must be int/float, got True"),
    (lambda s: s + "bogus = 1\n", r"models\[0\]: unknown field 'bogus'"),
    (lambda s: s.replace("seed = 3", "seed = [3"), r"not valid TOML"),
])
def test_malformed_workload(root, edit, match):
    p = _write(root, edit(GOOD))
    with pytest.raises(TraceError, match=match) as e:
        load_workload(p, trace_root=root)
    assert str(p) in str(e.value)


def _rewrite_npz(path: Path, **changes):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    for k, v in changes.items():
        if k == "meta":
            v(meta)
        else:
            arrays[k] = v(arrays[k])
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize("changes, match", [
    ({"work": lambda a: a - 10**9}, r"array 'work' has negative value"),
    ({"meta": lambda m: m.pop("lane_options")}, r"missing field 'lane_options'"),
    ({"meta": lambda m: m.update(level="half")}, r"field 'level' must be int/float"),
    ({"meta": lambda m: m.update(samples=[]),
      "in_nnz": lambda a: a[:0], "out_nnz": lambda a: a[:0], "work": lambda a: a[:0]},
     r"field 'samples' is empty"),
    ({"meta": lambda m: m.update(model="other")}, r"do not match"),
])
def test_malformed_trace(root, changes, match):
    bad = root / "set" / "fx_mlp" / "block50.npz"
    _rewrite_npz(bad, **changes)
    with pytest.raises(TraceError, match=match) as e:
        load_workload(_write(root, GOOD), trace_root=root)
    assert "block50.npz" in str(e.value)


def test_single_sample_trace_refused(root):
    p = root / "set" / "fx_mlp" / "dense.npz"
    _rewrite_npz(p, meta=lambda m: m.update(samples=m["samples"][:1]),
                 in_nnz=lambda a: a[:1], out_nnz=lambda a: a[:1],
                 work=lambda a: a[:1])
    with pytest.raises(TraceError, match=r"dense.npz: field 'samples' has 1 sample"):
        load_workload(_write(root, GOOD), trace_root=root)


def test_resolve_names():
    assert resolve_workload("fixture_mix").name == "fixture_mix.toml"
    with pytest.raises(TraceError, match="no such workload file.*known:.*fixture_mix"):
        resolve_workload("no_such_scenario")
    with pytest.raises(TraceError, match="no such workload file"):
        resolve_workload("missing.toml")


def test_split_deterministic_disjoint():
    wl = load_workload("fixture_mix")
    for m in wl.models:
        for p in m.patterns:
            prof, held = wl.split(m.name, p)
            n = wl.variant(m.name, p).n_samples
            assert len(prof) == round(wl.profile_fraction * n)
            assert sorted([*prof, *held]) == list(range(n))
            assert np.array_equal(prof, load_workload("fixture_mix").split(m.name, p)[0])


def test_requests_follow_the_scenario():
    wl = load_workload("fixture_mix")
    t = wl.static_tables()
    rate, slo = 5000.0, 3.0
    reqs = wl.requests(rate=rate, slo=slo, n=2000, seed=9, tables=t)
    assert reqs == wl.requests(rate=rate, slo=slo, n=2000, seed=9, tables=t)
    assert reqs != wl.requests(rate=rate, slo=slo, n=2000, seed=10, tables=t)
    assert [r.tag for r in reqs] == list(range(2000))
    arr = np.array([r.arrival for r in reqs])
    assert (np.diff(arr) >= 0).all()
    # Poisson: mean gap = clock / rate within 10 %
    assert np.diff(arr).mean() == pytest.approx(wl.clock_hz / rate, rel=0.1)
    specs = {m.name: m for m in wl.models}
    for r in reqs:
        m = specs[r.model]
        assert r.pattern in m.patterns and r.priority in m.priorities
        v = wl.variant(r.model, r.pattern)
        s = v.samples.index(r.sample)
        assert s in wl.held_out_samples(r.model, r.pattern)
        cyc = wl.variant_cycles(r.model, r.pattern)
        assert r.cycles == tuple(cyc[s])
        iso = cyc[wl.profile_samples(r.model, r.pattern)].sum(axis=1).mean()
        assert r.deadline == r.arrival + round(slo * iso)
        assert (r.model_id, r.pattern_id) == (t.model_id(r.model), t.pattern_id(r.pattern))
    # model mix follows the weights (fx_cnn weight 2 of 4)
    frac = np.mean([r.model == "fx_cnn" for r in reqs])
    assert frac == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="field 'rate' must be a finite number in .*, got 0.0"):
        wl.requests(rate=0.0)

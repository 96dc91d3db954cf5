"""The optional per-model ``damaged`` field of a scenario: validated, loaded, reported."""

import shutil

import pytest

from sim.workload import load_workload
from traces.format import TRACE_ROOT, TraceError

W = """
name = "t"
traces = "set"
clock_hz = 1000
num_requests = 20
seed = 3
profile_fraction = 0.5
rates = [2.0]
slo_multipliers = [4.0]
[[models]]
name = "fx_mlp"
patterns = ["dense", "block50"]
{damaged}weight = 1.0
priorities = [1, 9]
"""


@pytest.fixture
def root(tmp_path):
    shutil.copytree(TRACE_ROOT / "fixtures" / "fx_mlp", tmp_path / "set" / "fx_mlp")
    return tmp_path


def _load(root, damaged):
    p = root / "w.toml"
    p.write_text(W.format(damaged=damaged))
    return p, load_workload(p, trace_root=root)


def test_damaged_is_optional_and_loaded(root):
    assert _load(root, "")[1].models[0].damaged == ()
    assert _load(root, 'damaged = ["block50"]\n')[1].models[0].damaged == ("block50",)


@pytest.mark.parametrize("damaged", ['damaged = ["block75"]\n', 'damaged = [1]\n',
                                     'damaged = "block50"\n'])
def test_damaged_must_be_a_subset_of_patterns(root, damaged):
    with pytest.raises(TraceError, match=r"models\[0\]: field 'damaged'") as e:
        _load(root, damaged)
    assert "w.toml" in str(e.value)

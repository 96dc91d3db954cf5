"""Bad input, as an adversarial user gives it: a one-line error naming the file or option,
the field and the value, a non-zero exit, no traceback, and no stale or mixed results."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from traces.format import TRACE_ROOT, TraceError, load_variant

ROOT = Path(__file__).resolve().parents[2]
SMALL = (TRACE_ROOT / "fixtures" / "workloads" / "fixture_small.toml").read_text()


def _toml(tmp_path, old, new, name="bad.toml"):
    assert old in SMALL
    p = tmp_path / name
    p.write_text(SMALL.replace('traces = "fixtures"', f'traces = "{TRACE_ROOT / "fixtures"}"')
                 .replace(old, new))
    return p


def _cli(*args, cwd=ROOT):
    """Run the CLI as a user does; returns (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                       cwd=cwd, check=False, timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("old,new,field", [
    ("slo_multipliers = [8.0]", "slo_multipliers = [inf]", "'slo'"),
    ("weight = 1.0\npriorities = [1, 3, 9]", "weight = nan\npriorities = [1, 3, 9]", "'weight'"),
    ("weight = 1.0\npriorities = [1, 9]", "weight = inf\npriorities = [1, 9]", "'weight'"),
    ("seed = 1", "seed = -3", "'seed'"),
    ("priorities = [1, 9]", "priorities = [1, 2]", "'priorities' value 2"),
    ("rates = [30000.0]", "rates = [1e-300]", "'rate'"),
    ("num_requests = 60", "num_requests = 10_000_000", "'num_requests'"),
    ('name = "fixture_small"', 'name = "../../escape"', "'name'"),
    ('name = "fixture_small"', 'name = "/abs"', "'name'"),
    ("clock_hz = 200_000_000", "clock_hz = 0", "'clock_hz'"),
])
def test_bad_scenario_fields(tmp_path, old, new, field):
    p = _toml(tmp_path, old, new)
    rc, _, err = _cli("run", "--workload", str(p), "--out", str(tmp_path / "o"),
                        "--backend", "reference", "--n", "20")
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(p) in err and field in err, err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("args,needle", [
    (["--backend", "verilatr"], "--backend: unknown backend 'verilatr'"),
    (["--rate", "1e-300"], "--rate: field 'rate'"),
    (["--slo", "1e9"], "--slo: field 'slo'"),
    (["--n", "10000000"], "--n: field 'num_requests'"),
    (["--seed", "-1"], "--seed: field 'seed'"),
    (["--lanes", "12"], "no work counts for 12 lanes"),
    (["--slots", "12"], "--slots: must be a power of two"),
    (["--policy", "no_such_module:Foo"], "--policy 'no_such_module:Foo': cannot import"),
    (["--window", "5:1"], "--window"),
])
def test_bad_command_lines(tmp_path, args, needle):
    rc, _, err = _cli("run", "--workload", "fixture_small", "--out", str(tmp_path / "o"),
                        "--backend", "reference", *args)
    assert rc == 2, err
    assert "Traceback" not in err and needle in err, err


def test_unwritable_out_is_found_before_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = _cli("run", "--workload", "fixture_small", "--out", str(blocker / "sub"),
                        "--backend", "reference")
    assert rc == 2 and "--out" in err and "Traceback" not in err, err


def test_unsigned_and_corrupt_traces_are_named(tmp_path):
    src = TRACE_ROOT / "fixtures" / "fx_mlp" / "dense.npz"
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["work"] = arrays["work"].astype(np.uint64)
    arrays["work"][0, 0, 0] = np.uint64(2**63 + 5)
    big = tmp_path / "big.npz"
    np.savez(big, **arrays)
    with pytest.raises(TraceError, match=r"big.npz: array 'work' has value 9223372036854775813"):
        load_variant(big)
    bad = tmp_path / "corrupt.npz"
    shutil.copy(src, bad)
    with zipfile.ZipFile(src) as zin:
        info = zin.infolist()[-1]
    data = bytearray(bad.read_bytes())
    off = info.header_offset + 30 + len(info.filename) + len(info.extra) + 10
    data[off:off + 40] = b"\xff" * 40                      # damage a compressed stream
    bad.write_bytes(bytes(data))
    with pytest.raises(TraceError, match="corrupt.npz"):
        load_variant(bad)


def test_rerun_leaves_no_file_of_the_previous_run(tmp_path):
    out = tmp_path / "o"
    assert main(["run", "--workload", "fixture_small", "--out", str(out), "--n", "12",
                 "--sched", "fcfs,dysta", "--backend", "pysim"]) == 0
    d = out / "fixture_small"
    assert (d / "hw.json").is_file() and (d / "timeline-dysta-hw.png").is_file()
    assert main(["run", "--workload", "fixture_small", "--out", str(out), "--n", "15",
                 "--sched", "fcfs", "--backend", "reference"]) == 0
    assert not (d / "hw.json").exists() and not list(d.glob("timeline*.png"))
    assert sorted(p.name for p in out.iterdir()) == ["fixture_small"]   # no staging left
    res = json.loads((d / "results.json").read_text())
    assert res["config"]["n"] == 15 and list(res["schedulers"]) == ["fcfs"]
    rows = (d / "requests.csv").read_text().splitlines()
    assert rows[0].startswith("scheduler,tag,model,pattern,priority,arrival,start,finish,")
    assert len(rows) == 1 + 15


def test_policy_from_outside_the_tree(tmp_path):
    (tmp_path / "mypolicy.py").write_text(
        "from sw_scheduler.reference import Policy\n"
        "class Lifo(Policy):\n"
        "    name = 'lifo-test'\n"
        "    def select(self, now, active):\n"
        "        return max(active, key=lambda r: (r.arrival, r.tag))\n")
    rc, _, err = _cli("run", "--workload", "fixture_small", "--out", str(tmp_path / "o"),
                        "--backend", "reference", "--n", "30", "--sched", "fcfs,lifo-test",
                        "--policy", f"{tmp_path / 'mypolicy.py'}:Lifo")
    assert rc == 0, err
    res = json.loads((tmp_path / "o" / "fixture_small" / "results.json").read_text())
    assert list(res["schedulers"]) == ["fcfs", "lifo-test"]
    assert res["schedulers"]["lifo-test"]["antt"] != res["schedulers"]["fcfs"]["antt"]


def test_hardware_disagreement_is_an_error(tmp_path, monkeypatch, capsys):
    import sim.hw_row

    real = sim.hw_row.bitexact_agreement

    def differ(*a, **kw):
        return {**real(*a, **kw), "agree": False, "first_difference": 0}

    monkeypatch.setattr(sim.hw_row, "bitexact_agreement", differ)
    rc = main(["run", "--workload", "fixture_small", "--out", str(tmp_path / "o"), "--n", "8",
               "--sched", "fcfs", "--backend", "pysim"])
    assert rc == 3
    assert "RTL and bit-exact model differ" in capsys.readouterr().err
    assert not (tmp_path / "o" / "fixture_small").exists()     # nothing published

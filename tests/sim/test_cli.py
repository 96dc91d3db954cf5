"""CLI and bench end-to-end on the fixture workloads in a temporary directory."""

import csv
import json
import subprocess
import sys

from sim import bench, cli
from sw_scheduler.formats import DEFAULT_SLOTS
from sw_scheduler.lut_image import LutImages
from sw_scheduler.reference import policy_names


def test_cli_single_point(tmp_path, capsys):
    rc = cli.main(["run", "--workload", "fixture_small", "--out", str(tmp_path),
                   "--n", "40", "--sched", "fcfs,sjf,dysta", "--backend", "reference"])
    assert rc == 0
    d = tmp_path / "fixture_small"
    res = json.loads((d / "results.json").read_text())
    # models only: no hardware table to compare with, so no bounded-queue rows
    assert list(res["schedulers"]) == ["fcfs", "sjf", "dysta"]
    assert f"fcfs[{DEFAULT_SLOTS}]" not in res["schedulers"]
    for m in res["schedulers"].values():
        for k in ("violation_rate", "antt", "stp", "p99", "fairness"):
            assert isinstance(m[k], float)
        assert 0 <= m["violation_rate"] <= 1 and m["antt"] >= 1 and 0 < m["fairness"] <= 1
        assert m["n"] == 40
    assert res["config"]["n"] == 40 and res["config"]["fixture_traces"] is True
    assert set(res["config"]["lut_saturated"]) >= {"rem", "inv_nnz", "kinv_iso"}
    with (d / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["scheduler"] for r in rows] == list(res["schedulers"])
    assert (d / "violation_rate.png").stat().st_size > 1000
    assert (d / "antt.png").stat().st_size > 1000
    img = LutImages.read(d / "luts")
    assert img.models == ["fx_mlp", "fx_attn"]
    out = capsys.readouterr().out
    assert "fcfs" in out and "ANTT" in out and "FIXTURE" in out


def test_cli_sweep_and_backend_passthrough(tmp_path, capsys):
    seen = {}

    def fake_backend(ctx):
        seen["vcd"], seen["n"] = ctx.vcd, len(ctx.requests)
        from sw_scheduler.reference import make_policy, simulate
        return {"dysta-hw": simulate(ctx.requests, make_policy("dysta", ctx.tables))}

    cli.register_backend("fake", fake_backend)
    try:
        rc = cli.main(["run", "--workload", "fixture_mix", "--out", str(tmp_path), "--n", "30",
                       "--rate", "10000,20000", "--slo", "5,10", "--sched", "fcfs,prema",
                       "--backend", "fake", "--vcd", "--seed", "4"])
    finally:
        cli.BACKENDS.pop("fake")
    assert rc == 0 and seen == {"vcd": True, "n": 30}
    for r in ("10000", "20000"):
        for s in ("5", "10"):
            res = json.loads((tmp_path / f"fixture_mix-{r}-{s}" / "results.json").read_text())
            assert list(res["schedulers"]) == ["fcfs", f"fcfs[{DEFAULT_SLOTS}]", "prema",
                                               f"prema[{DEFAULT_SLOTS}]", "dysta-hw"]
            assert res["schedulers"]["dysta-hw"]["backend"] == "fake"
            assert res["config"]["vcd"] is True and res["config"]["seed"] == 4
    summary = json.loads((tmp_path / "fixture_mix" / "results.json").read_text())
    assert len(summary["points"]) == 4 and "fcfs" in summary["schedulers"]
    assert (tmp_path / "fixture_mix" / "violation_vs_rate.png").is_file()
    assert (tmp_path / "fixture_mix" / "violation_vs_slo.png").is_file()


def test_cli_errors(tmp_path, capsys):
    assert cli.main(["run", "--workload", "no_such", "--out", str(tmp_path)]) == 2
    assert "no such workload file" in capsys.readouterr().err
    assert cli.main(["run", "--workload", "fixture_small", "--out", str(tmp_path),
                     "--sched", "fcfs,bogus"]) == 2
    assert "unknown scheduler(s) bogus" in capsys.readouterr().err


def test_python_dash_m_sim(tmp_path):
    p = subprocess.run([sys.executable, "-m", "sim", "run", "--workload", "fixture_small",
                        "--out", str(tmp_path), "--n", "20", "--sched", "fcfs"],
                       check=False, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "fixture_small" / "results.json").is_file()


def test_bench_reference(tmp_path):
    res = bench.bench_reference(tmp_path, workload="fixture_mix", n=200, repeats=1)
    saved = json.loads((tmp_path / "reference.json").read_text())
    assert saved["n_requests"] == 200 and list(saved["schedulers"]) == policy_names()
    assert all(r["requests_per_second"] > 0 for r in res["schedulers"].values())


def test_bench_dispatch_reports_failures(tmp_path, monkeypatch, capsys):
    (tmp_path / "spine_ok_bench.py").write_text(
        "import pathlib\ndef run(out):\n    (pathlib.Path(out) / 'ok.json').write_text('{}')\n")
    (tmp_path / "spine_bad_bench.py").write_text(
        "def run(out):\n    raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import spine_bad_bench
    import spine_ok_bench
    monkeypatch.setattr(bench, "EXTRA_BENCHES",
                        {"spine_ok_bench": spine_ok_bench, "spine_bad_bench": spine_bad_bench})
    out = tmp_path / "b"
    rc = bench.main(["--out", str(out), "--workload", "fixture_small", "--n", "30"])
    assert rc == 1
    cap = capsys.readouterr()
    assert "spine_bad_bench: FAILED" in cap.err and "boom" in cap.err
    assert (out / "ok.json").is_file() and (out / "reference.json").is_file()
    monkeypatch.setattr(bench, "EXTRA_BENCHES", {"spine_ok_bench": spine_ok_bench})
    assert bench.main(["--out", str(out), "--workload", "fixture_small", "--n", "30"]) == 0

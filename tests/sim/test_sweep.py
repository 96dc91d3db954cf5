"""Sweeps (sim/sweep*.py): resume, kill and resume, no mixing, CI math, load, pass-through."""

import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim import cli, sweep
from sim.metrics import METRIC_KEYS
from sim.stats import mean_std_ci, t_cdf, t_quantile
from sim.sweep_exec import Progress, code_version
from sim.workload import load_workload
from sw_scheduler.formats import DEFAULT_SLOTS
from sw_scheduler.reference import make_policy, policy_names, simulate

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--workload", "fixture_small", "--n", "30", "--sched", "fcfs,sjf,dysta",
         "--slo", "4,8", "--load", "0.5,0.9", "--seeds", "0-1", "--no-plots"]


def _sweep(out, *args, jobs="1"):
    return cli.main(["sweep", "--out", str(out), "--jobs", jobs, *args])


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _computed(capsys) -> int:
    out = capsys.readouterr().out
    if "up to date" in out:
        return 0
    return int(out.split("(")[1].split(" computed")[0])


# ---- statistics ---------------------------------------------------------------------------

def test_t_quantiles_match_tables():
    # two-sided 95 % critical values of Student's t (standard tables)
    for df, t in ((1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423),
                  (120, 1.9799)):
        assert t_quantile(0.975, df) == pytest.approx(t, abs=1e-4)
    assert t_cdf(0.0, 5) == pytest.approx(0.5)
    assert t_quantile(0.025, 4) == pytest.approx(-t_quantile(0.975, 4))


def test_ci_hand_computed():
    # x = 0.1 .. 0.5: mean 0.3; s^2 = (0.04 + 0.01 + 0 + 0.01 + 0.04) / 4 = 0.025;
    # half width = t(0.975, 4) * s / sqrt(5) = 2.776445 * 0.158114 / 2.236068 = 0.196324
    mean, std, ci = mean_std_ci([0.1, 0.2, 0.3, 0.4, 0.5])
    assert mean == pytest.approx(0.3)
    assert std == pytest.approx(math.sqrt(0.025))
    assert ci == pytest.approx(0.196324, abs=1e-6)
    m1, s1, c1 = mean_std_ci([7.0])
    assert m1 == 7.0 and math.isnan(s1) and math.isnan(c1)
    assert mean_std_ci([2.0, 2.0, 2.0]) == (2.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        mean_std_ci([])


# ---- load ---------------------------------------------------------------------------------

def test_capacity_rate_by_hand():
    wl = load_workload("fixture_mix")
    t = wl.static_tables()
    # fixture_mix: fx_cnn weight 2 (4 patterns), fx_mlp 1 (2), fx_attn 1 (3)
    e_iso = (2 / 4 * sum(t.get("fx_cnn", p).iso for p in wl.models[0].patterns) / 4
             + 1 / 4 * sum(t.get("fx_mlp", p).iso for p in wl.models[1].patterns) / 2
             + 1 / 4 * sum(t.get("fx_attn", p).iso for p in wl.models[2].patterns) / 3)
    assert wl.capacity_rate(t) == pytest.approx(wl.clock_hz / e_iso, rel=1e-12)
    # capacity follows the lanes in use: fewer lanes, longer layers, lower capacity
    assert load_workload("fixture_mix", lanes=8).capacity_rate() < wl.capacity_rate()


def test_cli_run_load_records_rate(tmp_path):
    rc = cli.main(["run", "--workload", "fixture_small", "--out", str(tmp_path), "--n", "20",
                   "--sched", "fcfs", "--backend", "reference", "--load", "0.7"])
    assert rc == 0
    c = json.loads((tmp_path / "fixture_small" / "results.json").read_text())["config"]
    wl = load_workload("fixture_small")
    assert c["capacity_rate"] == pytest.approx(wl.capacity_rate())
    assert c["rate"] == pytest.approx(0.7 * wl.capacity_rate())
    assert c["load"] == pytest.approx(0.7)
    assert cli.main(["run", "--workload", "fixture_small", "--out", str(tmp_path),
                     "--rate", "100", "--load", "0.5"]) == 2


# ---- grid ---------------------------------------------------------------------------------

def test_parse_axis_and_errors(tmp_path):
    assert sweep.parse_axis("seed", "0-3,7") == [0, 1, 2, 3, 7]
    assert sweep.parse_axis("load", "0.5, 0.9") == [0.5, 0.9]
    assert sweep.parse_axis("protocol", "fair,paper") == ["fair", "paper"]
    assert sweep.parse_axis("seed", [0, 1]) == [0, 1]
    for axis, raw, msg in (("load", "0.5,x", "expected a number"),
                           ("slo", "0", "must be positive"),
                           ("seed", "3-1", "empty range"),
                           ("seed", "1,1", "repeated value")):
        with pytest.raises(sweep.SweepError, match=msg):
            sweep.parse_axis(axis, raw)
    g = tmp_path / "g.toml"
    g.write_text('workload = "fixture_small"\nseed = "0-2"\nslo = [4, 8]\n'
                 '[cluster]\ncores = 1\n')
    axes, cl = sweep.read_grid(g)
    assert axes == {"workload": ["fixture_small"], "seed": [0, 1, 2], "slo": [4.0, 8.0]}
    assert cl == {"cores": 1}


def test_bad_input_is_one_line(tmp_path, capsys):
    cases = [(["--set", "bogus=1"], ("axis 'bogus': the point function sim.cli.run_point "
                                     "has no keyword 'bogus'")),
             (["--sched", "fcfs,nope"], "unknown scheduler 'nope'"),
             (["--backend", "nope"], "unknown backend 'nope'"),
             (["--slots", "12"], "power of two"),
             (["--lanes", "12"], "no work counts for 12 lanes"),
             (["--workload", "nope"], "no such workload file"),
             (["--load", "0.5", "--rate", "100", "--grid", str(tmp_path / "none.toml")],
              "no such grid file"),
             (["--sched", "dysta-hw"], "needs a hardware backend")]
    for args, msg in cases:
        base = ["--workload", "fixture_small", "--n", "10", "--seeds", "0"]
        assert _sweep(tmp_path / "o", *base, *args) == 2, args
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1 and "Traceback" not in err, (args, err)


# ---- resume -------------------------------------------------------------------------------

def test_resume_computes_only_missing_points(tmp_path, capsys):
    out = tmp_path / "s"
    assert _sweep(out, *SMALL) == 0
    assert _computed(capsys) == 24           # 2 loads x 2 SLOs x 2 seeds x 3 schedulers
    first = (out / "summary.csv").read_text()
    rows = _rows(out / "summary.csv")
    assert len(rows) == 12 and {r["n_seeds"] for r in rows} == {"2"}
    pts = sorted((out / "points").glob("*.json"))
    assert len(pts) == 24
    pts[5].unlink()
    assert _sweep(out, *SMALL) == 0
    assert _computed(capsys) == 1
    assert (out / "summary.csv").read_text() == first
    assert _sweep(out, *SMALL) == 0
    assert "up to date" in capsys.readouterr().out
    # a corrupt point file (a torn write on a crash) is recomputed, not trusted
    pts[7].write_text('{"key": ')
    assert _sweep(out, *SMALL) == 0
    assert _computed(capsys) == 1
    assert (out / "summary.csv").read_text() == first
    # one more scheduler: only its points are computed, the others are reused
    more = [a if a != "fcfs,sjf,dysta" else "fcfs,sjf,dysta,edf" for a in SMALL]
    assert _sweep(out, *more) == 0
    assert _computed(capsys) == 8


def test_killed_sweep_resumes(tmp_path):
    """A sweep killed mid-run (whole process group, SIGKILL) resumes with the missing points."""
    args = ["--workload", "fixture_mix", "--n", "1000", "--sched", "fcfs,sjf,dysta",
            "--slo", "5", "--load", "0.5,0.8", "--seeds", "0-19", "--no-plots"]
    out = tmp_path / "k"
    cmd = [sys.executable, "-m", "sim", "sweep", "--out", str(out), "--jobs", "1", *args]
    p = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list((out / "points").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    done = len(list((out / "points").glob("*.json")))
    assert 1 <= done < 120, f"the kill landed outside the run ({done} of 120 points)"
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert f"({120 - done} computed, {done} cached)" in r.stdout
    assert not list((out / "points").glob(".*.tmp"))
    clean = tmp_path / "clean"
    r2 = subprocess.run([*cmd[:5], str(clean), *cmd[6:]], cwd=ROOT, capture_output=True,
                        text=True, timeout=300, check=False)
    assert r2.returncode == 0, r2.stderr
    assert (out / "summary.csv").read_text() == (clean / "summary.csv").read_text()


# ---- no mixing ----------------------------------------------------------------------------

def test_locked_folder_refuses_a_second_sweep(tmp_path, capsys):
    out = tmp_path / "s"
    with sweep.folder_lock(out, "a test holding the folder"):
        assert _sweep(out, *SMALL) == 2
        err = capsys.readouterr().err
        assert "another sweep is writing this folder" in err
        assert "a test holding the folder" in err and f"pid {os.getpid()}" in err
    assert not (out / "summary.csv").exists()
    assert _sweep(out, *SMALL) == 0          # released: the sweep runs


def test_second_grid_replaces_the_first(tmp_path, capsys):
    out = tmp_path / "s"
    a = ["--workload", "fixture_small", "--n", "20", "--sched", "fcfs,sjf", "--slo", "4",
         "--load", "0.5,0.9", "--seeds", "0-1"]
    assert _sweep(out, *a) == 0
    assert (out / "plots" / "fixture_small" / "antt_vs_load.png").is_file()
    b = ["--workload", "fixture_small", "--n", "20", "--sched", "dysta", "--slo", "6",
         "--rate", "20000", "--seeds", "0-2", "--no-plots"]
    assert _sweep(out, *b) == 0
    rows = _rows(out / "summary.csv")
    assert [(r["sched"], r["slo"], r["rate"], r["n_seeds"]) for r in rows] == \
        [("dysta", "6.0", "20000.0", "3")]
    assert not (out / "plots").exists()      # the first grid's plots are gone
    man = json.loads((out / "sweep.json").read_text())
    assert man["points"] == 3 and man["grid"]["sched"] == ["dysta"]
    capsys.readouterr()
    assert _sweep(out, *a) == 0              # back to the first grid: cached, not mixed
    assert _computed(capsys) == 0
    assert len(_rows(out / "summary.csv")) == 4


def test_concurrent_sweeps_never_mix(tmp_path):
    """Two sweeps started together into one folder: one waits for nothing and fails, or
    they run one after the other; the summary is exactly one grid, never a mix."""
    out = tmp_path / "s"
    grids = {"fcfs": ("fcfs", "0.5,0.9"), "sjf": ("sjf", "0.6,0.8")}
    procs = {}
    for name, (sched, load) in grids.items():
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "sim", "sweep", "--out", str(out), "--jobs", "1",
             "--workload", "fixture_mix", "--n", "400", "--sched", sched, "--load", load,
             "--slo", "5", "--seeds", "0-5", "--no-plots"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    res = {k: p.communicate(timeout=300) + (p.returncode,) for k, p in procs.items()}
    for _, err, rc in res.values():
        assert rc == 0 or (rc == 2 and "another sweep is writing this folder" in err), err
    rows = _rows(out / "summary.csv")
    scheds = {r["sched"] for r in rows}
    assert len(scheds) == 1 and len(rows) == 2
    sched, load = grids[scheds.pop()]
    assert [r["load"] for r in rows] == load.split(",")
    assert all(r["n_seeds"] == "6" for r in rows)


# ---- summary ------------------------------------------------------------------------------

def test_summary_is_mean_std_ci_of_the_points(tmp_path):
    out = tmp_path / "s"
    assert _sweep(out, "--workload", "fixture_mix", "--n", "60", "--sched", "fcfs,sdrm3",
                  "--rate", "15000,25000", "--slo", "3,6", "--seeds", "0-3") == 0
    pts = _rows(out / "points.csv")
    rows = _rows(out / "summary.csv")
    assert len(pts) == 2 * 2 * 2 * 4 and len(rows) == 8
    js = json.loads((out / "summary.json").read_text())
    assert len(js["rows"]) == 8 and "violation_rate_ci95" in js["columns"]
    for r in rows:
        vals = [float(p["antt"]) for p in pts if (p["sched"], p["rate"], p["slo"]) ==
                (r["sched"], r["rate"], r["slo"])]
        assert len(vals) == 4
        m, s, _ = mean_std_ci(vals)
        assert float(r["antt_mean"]) == pytest.approx(m)
        assert float(r["antt_std"]) == pytest.approx(s)
        assert float(r["antt_ci95"]) == pytest.approx(3.182446 * s / 2, rel=1e-6)
        assert float(r["load"]) == pytest.approx(float(r["rate"]) /
                                                 load_workload("fixture_mix").capacity_rate())
    # one point recomputed by hand from the same stream
    wl = load_workload("fixture_mix")
    t = wl.static_tables()
    reqs = wl.requests(rate=15000, slo=3, n=60, seed=2, tables=t)
    comp = simulate(reqs, make_policy("sdrm3", t))
    viol = sum(c.finish > c.deadline for c in comp) / 60
    p = next(p for p in pts if (p["sched"], p["rate"], p["slo"], p["seed"]) ==
             ("sdrm3", "15000.0", "3.0", "2"))
    assert float(p["violation_rate"]) == pytest.approx(viol)
    plots = sorted(x.name for x in (out / "plots" / "fixture_mix").iterdir())
    assert "violation_rate_vs_rate.png" in plots and "violation_rate_vs_slo.png" in plots
    assert len(plots) == 2 * len(METRIC_KEYS)                     # vs rate and vs SLO


def test_default_grid_and_every_scheduler(tmp_path):
    out = tmp_path / "s"
    assert _sweep(out, "--workload", "fixture_small", "--n", "15", "--no-plots") == 0
    rows = _rows(out / "summary.csv")
    wl = load_workload("fixture_small")
    assert [r["sched"] for r in rows] == policy_names()
    assert {(float(r["rate"]), float(r["slo"]), r["seeds"]) for r in rows} == \
        {(wl.rates[0], wl.slo_multipliers[0], str(wl.seed))}


# ---- pass-through and backends ------------------------------------------------------------

def test_axes_pass_through_to_the_point_function(tmp_path):
    seen = []

    def point(wl, tables, images, *, rate, slo, n, seed, scheds, backend, out_dir, slots,
              write):
        # protocol is a workload option: the sweep loads the workload with it
        seen.append((wl.protocol, slots, backend, tuple(scheds)))
        return cli.run_point(wl, tables, images, rate=rate, slo=slo, n=n, seed=seed,
                             scheds=scheds, backend=backend, out_dir=out_dir, slots=slots,
                             write=write)

    grid = {"workload": ["fixture_small"], "sched": ["fcfs"], "n": [10], "seed": [0],
            "protocol": ["fair", "paper"], "slots": [8, 16]}
    pts = sweep.build_points(grid, point_fn=point, backends=["reference"],
                             sched_names=policy_names(), hw_name="dysta-hw")
    assert len(pts) == 4 and len({p.key for p in pts}) == 4
    rep = sweep.run_sweep(pts, tmp_path / "s", point_fn=point, hw_name="dysta-hw",
                          plots=False, stream=io.StringIO())
    assert rep["computed"] == 4 and rep["failed"] == 0
    assert sorted(seen) == [(p, s, "reference", ("fcfs",)) for p in ("fair", "paper")
                            for s in (8, 16)]
    rows = _rows(tmp_path / "s" / "summary.csv")
    assert [(r["protocol"], r["slots"]) for r in rows] == \
        [("fair", "8"), ("paper", "8"), ("fair", "16"), ("paper", "16")]   # grid order


def test_hardware_backend_row(tmp_path, capsys):
    def fake(ctx):
        print(f"fake backend ran {len(ctx.requests)} requests", file=sys.stderr)
        return {"dysta-hw": simulate(ctx.requests, make_policy("dysta", ctx.tables))}

    cli.register_backend("fake", fake)
    try:
        out = tmp_path / "s"
        assert _sweep(out, "--workload", "fixture_small", "--n", "12", "--sched", "fcfs",
                      "--backend", "fake", "--seeds", "0-1", "--no-plots") == 0
    finally:
        cli.BACKENDS.pop("fake")
    rows = _rows(out / "summary.csv")
    assert [(r["sched"], r["backend"]) for r in rows] == [("fcfs", "fake"),
                                                           ("dysta-hw", "fake")]
    err = capsys.readouterr().err
    # the backend's log lines come back labelled with their point
    assert err.count("fake backend ran 12 requests") == 2
    assert (f"[fixture_small rate 30000/s, SLO x8, seed 1, n 12, {DEFAULT_SLOTS} slots x 16 "
            "lanes, fake]") in err
    docs = [json.loads(p.read_text()) for p in (out / "points").glob("*.json")]
    hw = [d for d in docs if d["params"]["sched"] == "dysta-hw"]
    assert len(hw) == 2 and all(d["metrics"]["backend"] == "fake" for d in hw)


def test_local_pool_equals_inline(tmp_path):
    args = ["--workload", "fixture_mix", "--n", "80", "--sched", "fcfs,prema",
            "--load", "0.6,0.9", "--slo", "5", "--seeds", "0-2", "--no-plots"]
    assert _sweep(tmp_path / "a", *args) == 0
    assert cli.main(["sweep", "--out", str(tmp_path / "b"), "--jobs", "2", "--always-pool",
                     *args]) == 0
    a = {p.name: json.loads(p.read_text()) for p in (tmp_path / "a" / "points").glob("*")}
    b = {p.name: json.loads(p.read_text()) for p in (tmp_path / "b" / "points").glob("*")}
    assert a.keys() == b.keys() and len(a) == 12
    assert {d["provenance"]["pid"] for d in b.values()} - {os.getpid()}   # other processes
    for k in a:
        assert a[k]["metrics"] == b[k]["metrics"] and a[k]["params"] == b[k]["params"]
    assert (tmp_path / "a" / "summary.csv").read_text() == \
        (tmp_path / "b" / "summary.csv").read_text()


# ---- keys and progress --------------------------------------------------------------------

def test_point_key_depends_on_content(tmp_path):
    p = {"workload": "w", "sched": "fcfs", "load": 0.5}
    k = sweep.point_key(p, "digest", "code")
    assert k == sweep.point_key(dict(reversed(list(p.items()))), "digest", "code")
    assert k != sweep.point_key({**p, "load": 0.6}, "digest", "code")
    assert k != sweep.point_key(p, "digest2", "code")
    assert k != sweep.point_key(p, "digest", "code2")
    assert len(code_version()) == 20
    # an edited trace file changes the workload digest, hence every key of that workload
    wl = load_workload("fixture_small")
    d0 = sweep._workload_digest(wl.path, wl)
    toml = tmp_path / "w.toml"
    toml.write_text(wl.path.read_text().replace("seed = 1", "seed = 2"))
    assert sweep._workload_digest(toml, load_workload(toml)) != d0


def test_progress_lines_in_a_log_and_on_a_terminal():
    log = io.StringIO()
    p = Progress(4, stream=log, every=0.0, tty=False)
    p.start()
    for _ in range(4):
        p.update()
    p.message("a note")
    p.close()
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("sweep: 0/4 points (0%)") and "ETA ?" in lines[0]
    assert lines[-2].startswith("sweep: 4/4 points (100%)") and "ETA 0:00" in lines[-2]
    assert lines[-1] == "a note" and "\r" not in log.getvalue()
    tty = io.StringIO()
    p = Progress(2, stream=tty, every=0.0, tty=True)
    p.start()
    p.update(2)
    p.message("hw line")
    p.close()
    v = tty.getvalue()
    assert v.startswith("\r\033[Ksweep: 0/2") and "\r\033[Khw line\n" in v and v.endswith("\n")


def test_bench_sweep_writes_its_report(tmp_path):
    from sim import bench_sweep

    r = bench_sweep.run(tmp_path, size="fixture", jobs=1)
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["points"] == 8 and saved["request_streams"] == 4
    assert r["cold"]["computed"] == 8 and r["warm"]["up_to_date"] is True
    assert r["resume"]["computed"] == 1 and r["resume"]["cached"] == 7
    assert r["task_seconds"]["count"] == 4 and r["profile"]["pool_start_seconds"] > 0
    prof = r["profile"]["per_workload"]["fixture_mix"]
    assert set(prof["simulate"]) == set(bench_sweep.SCHEDS)

"""Sweep benchmark: ``python -m sim.bench_sweep [--size paper|small] --out out/bench``.

``paper`` (the default, as in ``make bench``): the size of the paper's scripts — scenarios
arvr, mobile, datacenter x schedulers fcfs, sjf, prema, planaria, sdrm3, dysta x loads
0.5..0.9 x SLO multipliers 2, 5, 10, 15, 20, 30 x seeds 0-4 x 1000 requests, reference
backend: 450 request streams, 2700 points. ``small``: arvr only, 3 loads x 2 SLOs x 2
seeds. Writes ``OUT/sweep.json``:

* ``cold``: the sweep into an empty folder on all local cores (its compute and
  summary/plot phases), ``warm``: the same command again (nothing to compute),
  ``resume``: after deleting 10 % of the point files;
* ``task_seconds``: the workers' wall and CPU time per request stream of the cold run
  (sum, mean, max; CPU sum / cores is the compute time on an otherwise idle machine) and
  the time spent preparing (workload, lanes) data, once per worker;
* ``profile``: in this process, per scenario: loading the traces, static tables, LUT
  images, one 1000-request stream, each scheduler's simulation and its metrics; and the
  time until a local worker pool answers (process start with the modules preloaded).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sw_scheduler.reference import make_policy, simulate

from .cli import run_point
from .hw_row import HW_NAME
from .metrics import compute_metrics
from .sweep import _cores, build_points, run_sweep
from .workload import load_workload

__all__ = ["SIZES", "main", "run"]

SCHEDS = ["fcfs", "sjf", "prema", "planaria", "sdrm3", "dysta"]
SIZES = {
    "paper": {"workload": ["arvr", "mobile", "datacenter"], "sched": SCHEDS,
              "load": [0.5, 0.6, 0.7, 0.8, 0.9], "slo": [2.0, 5.0, 10.0, 15.0, 20.0, 30.0],
              "seed": [0, 1, 2, 3, 4], "n": [1000], "backend": ["reference"]},
    "small": {"workload": ["arvr"], "sched": SCHEDS, "load": [0.5, 0.7, 0.9],
              "slo": [5.0, 10.0], "seed": [0, 1], "n": [1000], "backend": ["reference"]},
    # the benchmark's own test (synthetic fixture traces, not a measurement)
    "fixture": {"workload": ["fixture_mix"], "sched": ["fcfs", "dysta"], "load": [0.5, 0.9],
                "slo": [5.0], "seed": [0, 1], "n": [40], "backend": ["reference"]},
}


_POOL_START = """
import os, time
from concurrent.futures import ProcessPoolExecutor
from sim.sweep_exec import _mp_context
if __name__ == "__main__":
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=_mp_context()) as ex:
        ex.submit(os.getpid).result()
        print(time.perf_counter() - t0)
"""


def _pool_start() -> float:
    """Seconds until a fresh local pool answers (a new process: forkserver not yet up)."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "pool_start.py"
        f.write_text(_POOL_START)
        r = subprocess.run([sys.executable, str(f)], capture_output=True, text=True,
                           check=True, timeout=300)
    return float(r.stdout.split()[-1])


def profile(workloads, n: int = 1000) -> dict:
    """Where a point's time goes, per scenario (this process, one repetition each)."""
    out = {}
    for w in workloads:
        t = {}
        t0 = time.perf_counter()
        wl = load_workload(w)
        t["load_traces"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        tables = wl.static_tables()
        t["static_tables"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        tables.to_lut_images()
        t["lut_images"] = time.perf_counter() - t0
        rate = 0.7 * wl.capacity_rate(tables)
        t0 = time.perf_counter()
        reqs = wl.requests(rate=rate, slo=10.0, n=n, seed=0, tables=tables)
        t["requests"] = time.perf_counter() - t0
        sims, mets = {}, 0.0
        for s in SCHEDS:
            t0 = time.perf_counter()
            comp = simulate(reqs, make_policy(s, tables))
            sims[s] = time.perf_counter() - t0
            t0 = time.perf_counter()
            compute_metrics(comp, wl.clock_hz)
            mets += time.perf_counter() - t0
        t["simulate"] = sims
        t["simulate_total"] = sum(sims.values())
        t["metrics_total"] = mets
        out[w] = t
    return {"per_workload": out, "pool_start_seconds": _pool_start(), "load": 0.7,
            "slo": 10.0, "n": n}


def run(out_dir, *, size: str = "paper", jobs: int | None = None, keep: bool = False) -> dict:
    """Run the benchmark; write ``OUT/sweep.json``; return its content."""
    grid = SIZES[size]
    jobs = jobs or _cores()
    kw = {"point_fn": run_point, "hw_name": HW_NAME}
    pts = build_points(grid, backends=["reference"], sched_names=SCHEDS, **kw)
    d = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    log = io.StringIO()
    try:
        cold = run_sweep(pts, d, jobs=jobs, progress_every=30.0, stream=log, grid=grid, **kw)
        docs = [json.loads(p.read_text()) for p in (d / "points").glob("*.json")]
        warm = run_sweep(pts, d, jobs=jobs, stream=log, grid=grid, **kw)
        files = sorted((d / "points").glob("*.json"))
        for p in files[::10]:
            p.unlink()
        resume = run_sweep(pts, d, jobs=jobs, stream=log, grid=grid, **kw)
    finally:
        if keep:
            print(f"sweep folder kept: {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    tasks = {d["provenance"]["task"]: d["provenance"] for d in docs}   # cold run, per stream
    secs = [t["task_seconds"] for t in tasks.values()]
    cpu = [t["task_cpu_seconds"] for t in tasks.values()]
    res = {
        "size": size, "grid": grid, "points": len(pts),
        "request_streams": len(pts) // len(grid["sched"]), "jobs": jobs,
        "cores": _cores(), "cold": cold, "warm": warm, "resume": resume,
        "task_seconds": {"count": len(secs), "sum": sum(secs),
                         "mean": statistics.fmean(secs) if secs else None,
                         "max": max(secs) if secs else None,
                         "cpu_sum": sum(cpu), "cpu_mean": statistics.fmean(cpu) if cpu else None,
                         "prepare_sum": sum(t["prepare_seconds"] for t in tasks.values())},
        "profile": profile(grid["workload"], n=grid["n"][0]),
        "python": platform.python_version(), "machine": platform.machine(),
        "loadavg_at_end": os.getloadavg(),
        "progress_log": log.getvalue().splitlines()[-4:],
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(res, indent=2))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.bench_sweep",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/bench")
    ap.add_argument("--size", choices=sorted(SIZES), default="paper")
    ap.add_argument("--jobs", type=int, default=None, help="default: all cores")
    ap.add_argument("--keep", action="store_true", help="keep the sweep folder")
    a = ap.parse_args(argv)
    r = run(a.out, size=a.size, jobs=a.jobs, keep=a.keep)
    c = r["cold"]
    print(f"sweep benchmark ({r['size']}): {r['points']} points, {r['request_streams']} "
          f"request streams on {r['jobs']} workers: {c['seconds']:.1f} s cold "
          f"({c['compute_seconds']:.1f} s compute, {c['summary_seconds']:.1f} s summary + "
          f"plots), {r['warm']['seconds']:.2f} s warm, {r['resume']['seconds']:.1f} s to "
          f"resume {r['resume']['computed']} points; results in {a.out}/sweep.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

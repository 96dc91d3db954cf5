"""Benchmarks: ``python -m sim.bench --out out/bench``.

Times the reference simulator per scheduler on a fixed seeded workload (the real
``arvr`` scenario when ``traces/data`` exists, else the fixture scenario) and writes
``OUT/reference.json`` (requests simulated per second per scheduler). Then runs the
other benchmarks: :mod:`sim.bench_scheduler`, :mod:`sim.bench_datapath`,
:mod:`sim.bench_system`, :mod:`sim.bench_sweep` (each ``run(out_dir)``). A benchmark that fails is reported and
makes the exit status non-zero.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from pathlib import Path

from sw_scheduler.reference import make_policy, policy_names, simulate
from traces.format import TraceError

from . import bench_datapath, bench_scheduler, bench_sweep, bench_system
from .workload import default_workload, load_workload

__all__ = ["EXTRA_BENCHES", "bench_reference", "main"]

EXTRA_BENCHES = {"sim.bench_scheduler": bench_scheduler, "sim.bench_datapath": bench_datapath,
                 "sim.bench_system": bench_system, "sim.bench_sweep": bench_sweep}


def bench_reference(out_dir, *, workload: str | None = None, n: int = 1000, seed: int = 0,
                    repeats: int = 3) -> dict:
    """Time each reference scheduler on ``n`` requests; write ``reference.json``.

    Per scheduler the best of ``repeats`` wall-clock runs of :func:`simulate` counts
    (request generation and table building are excluded and reported separately).
    """
    fallback = None
    try:
        wl = load_workload(workload or default_workload())
    except TraceError as e:        # the real scenario does not load: say so, use the fixture
        if workload is not None:
            raise
        fallback = str(e)
        wl = load_workload("fixture_mix")
    t0 = time.perf_counter()
    tables = wl.static_tables()
    reqs = wl.requests(n=n, seed=seed, tables=tables)
    setup = time.perf_counter() - t0
    res = {}
    for name in policy_names():
        best = float("inf")
        for _ in range(repeats):
            pol = make_policy(name, tables)
            t = time.perf_counter()
            simulate(reqs, pol)
            best = min(best, time.perf_counter() - t)
        res[name] = {"seconds": best, "requests_per_second": n / best}
    out = {
        "workload": wl.name, "default_workload_error": fallback, "fixture_traces": any(v.fixture for v in wl.variants.values()),
        "n_requests": n, "seed": seed, "rate": wl.rates[0], "slo": wl.slo_multipliers[0],
        "setup_seconds": setup, "repeats": repeats,
        "total_seconds": sum(r["seconds"] for r in res.values()),
        "python": platform.python_version(), "machine": platform.machine(),
        "schedulers": res,
    }
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "reference.json").write_text(json.dumps(out, indent=2))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/bench")
    ap.add_argument("--workload", default=None, help="default: arvr if real traces exist")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--only-reference", action="store_true",
                    help="skip the RTL/system benchmarks")
    a = ap.parse_args(argv)
    failures = []
    ref = bench_reference(a.out, workload=a.workload, n=a.n)
    if ref["default_workload_error"]:
        print(f"warning: default workload did not load ({ref['default_workload_error']}); "
              "timed the fixture scenario instead", file=sys.stderr)
    print(f"reference simulator, {ref['workload']}, {ref['n_requests']} requests:")
    for name, r in ref["schedulers"].items():
        print(f"  {name:18s} {r['requests_per_second']:12.0f} req/s  ({r['seconds']:.3f} s)")
    print(f"  total {ref['total_seconds']:.3f} s for {len(ref['schedulers'])} schedulers")
    if not a.only_reference:
        for mod, bench in EXTRA_BENCHES.items():
            try:
                bench.run(Path(a.out))
                print(f"{mod}: finished, results in {a.out}")
            except Exception:  # noqa: BLE001 -- report every failure, keep going
                traceback.print_exc()
                print(f"{mod}: FAILED", file=sys.stderr)
                failures.append(mod)
    print(f"results in {a.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m sim run|sweep --workload NAME|path.toml ...`` (also ``dysta``).

For every (rate, SLO multiplier) point it generates the seeded request stream, runs each
selected reference scheduler, checks conservation, computes the metrics, prints a table
and writes ``results.json``, ``results.csv`` and PNG plots:

* one point: ``OUT/<workload>/``;
* several points: ``OUT/<workload>-<rate>-<slo>/`` per point, plus ``OUT/<workload>/``
  holding the first point's ``schedulers``, every point under ``points`` and the sweep
  plots (violation vs rate / vs SLO).

The static LUT images of the workload are written (quantised once per run) to
``OUT/<workload>/luts/``. ``--slots``/``--lanes`` choose the hardware configuration: the
workload's cycles come from the datapath cycle model at ``lanes``, the scheduler RTL is
built with ``slots`` table entries; both are recorded in ``results.json`` and ``hw.json``.

``--load`` gives the arrival rate as a fraction of the accelerator's capacity
(:meth:`Workload.capacity_rate`); ``results.json`` records ``rate``, ``load`` and
``capacity_rate`` either way. ``python -m sim sweep`` runs grids of points resumably on
all local cores or a Dask cluster (:mod:`sim.sweep`), through the same :func:`run_point`.

Rows per selected scheduler ``s``: ``s`` (reference model, unbounded queue), ``s[N]``
(reference model with the hardware's table capacity ``N = slots`` and FIFO admission) and,
with a hardware backend, ``s-hw`` (the RTL of its hardware policy, :mod:`sim.hw_row`),
with the mean back-pressure wait and the time the table was full.

Backends: ``reference`` (models only), ``pysim`` and ``verilator`` (the scheduler RTL,
:mod:`sim.hw_row`, beside the models); more can be registered with
:func:`register_backend`. The default is ``verilator``, as for ``make sim``. With a
hardware backend every request is checked against the hardware's fields before any model
runs (an error names the request, the field and the value).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from sw_scheduler.formats import DEFAULT_LANES, DEFAULT_SLOTS, FixedPointWarning
from sw_scheduler.lut_image import LutImages
from sw_scheduler.records import check_conservation
from sw_scheduler.reference import load_policy, make_policy, policy_names, simulate
from sw_scheduler.static import StaticTables
from traces.format import TraceError

from .hw_row import HW_NAME, HwInputError, HwMismatch, check_hw_inputs, hw_backend
from .metrics import METRIC_KEYS, breakdown, compute_metrics
from .plots import plot_point, plot_sweep
from .protocols import PROTOCOLS
from .sweep import add_parser as add_sweep_parser
from .sweep import cmd_sweep
from .workload import Workload, check_value, load_workload

__all__ = ["BACKENDS", "RunContext", "main", "register_backend", "run_point"]

REFERENCE = "reference"
DEFAULT_BACKEND = "verilator"


@dataclass
class RunContext:
    """What a backend gets for one (rate, SLO) point."""

    workload: Workload
    tables: StaticTables
    images: LutImages         # the tables quantised once per run
    requests: list            # sw_scheduler.records.Request, sorted by arrival
    rate: float
    slo: float
    seed: int
    out_dir: Path
    vcd: bool
    slots: int = DEFAULT_SLOTS
    lanes: int = DEFAULT_LANES
    predictor: str = "mean"
    window: tuple | None = None     # timeline window (start_ms, end_ms)
    scheds: list = field(default_factory=list)   # the selected schedulers
    notes: dict = field(default_factory=dict)    # row -> extra table columns from a backend

    @property
    def label(self) -> str:
        """Which point this is, for progress and log lines."""
        return f"[rate {_fmt(self.rate)}/s, SLO x{_fmt(self.slo)}]"


# backend name -> callable(RunContext) -> {result name: list of completions}
BACKENDS: dict = {name: hw_backend(name) for name in ("pysim", "verilator")}


def register_backend(name: str, fn):
    """Register ``fn(ctx: RunContext) -> {name: completions}`` as backend ``name``."""
    if name == REFERENCE:
        raise ValueError(f"backend name {REFERENCE!r} is reserved")
    BACKENDS[name] = fn


def _fmt(x: float) -> str:
    return f"{x:g}"


def bounded_name(name: str, slots: int) -> str:
    """Row name of reference ``name`` run with a ``slots``-entry table."""
    return f"{name}[{slots}]"


def run_point(wl, tables, images, *, rate, slo, n, seed, scheds, backend=REFERENCE,
              vcd=False, out_dir: Path, progress=None, slots: int = DEFAULT_SLOTS,
              window=None, write: bool = True) -> dict:
    """Run one (rate, SLO) point; write its files into ``out_dir``; return the results.

    The one point function: ``make sim`` and every sweep point (:mod:`sim.sweep`, which
    passes each axis as a keyword) call it; ``write=False`` skips the result files.
    Files: ``results.json`` (metrics per scheduler with per-model / per-priority
    breakdowns, the configuration), ``results.csv``, ``requests.csv`` (one row per request
    and scheduler), the plots; with a hardware backend also its ``hw.json`` and timeline.
    """
    reqs = wl.requests(rate=rate, slo=slo, n=n, seed=seed, tables=tables)
    if backend != REFERENCE:
        check_hw_inputs(reqs, images, slots)        # before any model runs
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, completions = {}, {}
    rules = wl.rules
    averaged = None if rules.baselines_pattern_aware else tables.pattern_averaged()
    # with a hardware backend every reference model also runs with the hardware's table
    # capacity (FIFO admission), so the table shows what the bounded queue costs
    caps = (None,) if backend == REFERENCE else (None, slots)
    for name in scheds:
        pol_tables = tables if rules.uses_pattern_tables(name) else averaged
        for cap in caps:
            comp = simulate(reqs, make_policy(name, pol_tables), capacity=cap)
            row = name if cap is None else bounded_name(name, slots)
            completions[row] = comp
            rows[row] = {**_metrics(comp, wl.clock_hz, REFERENCE), "slots": cap}
            if progress is not None:
                progress.update(1)
    backend_status = "ok"
    extra = {}
    if backend != REFERENCE:
        ctx = RunContext(workload=wl, tables=tables, images=images, requests=reqs,
                         rate=rate, slo=slo, seed=seed, out_dir=out_dir, vcd=vcd,
                         slots=slots, lanes=wl.lanes, window=window, scheds=list(scheds))
        for name, comp in BACKENDS[backend](ctx).items():
            check_conservation(reqs, comp, where=f"backend {backend!r} result {name!r}")
            completions[name] = comp
            extra[name] = {**_metrics(comp, wl.clock_hz, backend), "slots": slots,
                           **ctx.notes.get(name, {})}
    sched_res = {}                      # each scheduler's rows together
    for name in scheds:
        for key in (name, bounded_name(name, slots), f"{name}-hw"):
            if key in rows:
                sched_res[key] = rows.pop(key)
            elif key in extra:
                sched_res[key] = extra.pop(key)
    sched_res.update(extra)
    fixture = any(v.fixture for v in wl.variants.values())
    capacity = wl.capacity_rate(tables)
    res = {
        "schedulers": sched_res,
        "config": {
            "workload": wl.name, "workload_file": str(wl.path), "traces": wl.traces,
            "fixture_traces": fixture, "rate": rate, "load": rate / capacity,
            "capacity_rate": capacity, "offered_load": _offered_load(reqs),
            "slo": slo, "n": n, "seed": seed,
            "clock_hz": wl.clock_hz, "profile_fraction": wl.profile_fraction,
            "beta": tables.beta, "kappa_cycles": tables.kappa_cycles,
            "backend": backend, "backend_status": backend_status, "vcd": vcd,
            "slots": slots, "lanes": wl.lanes, "protocol": wl.protocol,
            "shape_buckets": wl.shape_buckets,
            "schedulers": list(scheds), "lut_saturated": images.saturated,
            "damaged": {m.name: list(m.damaged) for m in wl.models if m.damaged},
        },
    }
    if write:
        (out_dir / "results.json").write_text(json.dumps(res, indent=2))
        _write_csv(out_dir / "results.csv", [res])
        _write_requests(out_dir / "requests.csv", completions)
        plot_point(res, out_dir)
    return res


def _metrics(comp, clock_hz: int, backend: str) -> dict:
    return {**compute_metrics(comp, clock_hz), "backend": backend,
            "by_model": breakdown(comp, clock_hz, "model"),
            "by_priority": breakdown(comp, clock_hz, "priority")}


def _offered_load(reqs) -> float:
    """Isolated work offered per cycle of the arrival span (1.0 = the accelerator full)."""
    span = reqs[-1].arrival - reqs[0].arrival
    return float(sum(r.iso for r in reqs) / span) if span > 0 else float("inf")


REQUEST_COLUMNS = ("scheduler", "tag", "model", "pattern", "priority", "arrival", "start",
                   "finish", "deadline", "met", "turnaround", "iso")


def _write_requests(path, completions: dict) -> None:
    """``requests.csv``: every request under every scheduler (cycles)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(REQUEST_COLUMNS)
        for name, comp in completions.items():
            for c in sorted(comp, key=lambda c: c.tag):
                w.writerow([name, c.tag, c.model, c.pattern, c.priority, c.arrival, c.start,
                            c.finish, c.deadline, int(c.met), c.finish - c.arrival, c.iso])


def _write_csv(path, points):
    cols = ["scheduler", "backend", "slots", "rate", "slo", "n", *METRIC_KEYS, "p50_cycles",
            "p99_cycles", "mean_wait_ms", "table_full_fraction"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for p in points:
            c = p["config"]
            for name, m in p["schedulers"].items():
                w.writerow([name, m["backend"], m.get("slots") or "", c["rate"], c["slo"],
                            c["n"], *(m.get(k, "") for k in cols[6:])])


def format_table(res: dict) -> str:
    c = res["config"]
    lines = [f"{c['workload']}: rate {_fmt(c['rate'])}/s (offered load "
             f"{100 * c['offered_load']:.0f} % of the accelerator), SLO x{_fmt(c['slo'])}, "
             f"{c['n']} requests, seed {c['seed']}, protocol {c['protocol']}, "
             f"{c['slots']} slots, {c['lanes']} lanes"
             + ("  [FIXTURE traces: not a benchmark]" if c["fixture_traces"] else ""),
             (f"{'scheduler':22s} {'slots':>5s} {'viol%':>7s} {'ANTT':>9s} {'STP':>8s} "
              f"{'req/s':>8s} {'p99 ms':>9s} {'fair':>6s} {'wait ms':>8s} {'full%':>6s}")]
    for name, m in res["schedulers"].items():
        hw = "table_full_fraction" in m
        lines.append(f"{name:22s} {m.get('slots') or '-':>5} {100 * m['violation_rate']:7.2f} "
                     f"{m['antt']:9.3f} {m['stp']:8.1f} {m['throughput']:8.2f} "
                     f"{m['p99']:9.3f} {m['fairness']:6.3f}"
                     + (f" {m['mean_wait_ms']:8.2f} {100 * m['table_full_fraction']:6.2f}"
                        if hw else ""))
    lines.append("STP = sum of normalised progress iso/turnaround (higher is better); "
                 "req/s = completions per second of makespan (the artifact's 'STP')")
    if any(m.get("slots") for m in res["schedulers"].values()):
        lines.append(f"s: reference model, unbounded queue; s[{c['slots']}]: the same with "
                     f"the hardware's {c['slots']}-entry table, FIFO admission; s-hw: the RTL; "
                     "wait: mean back-pressure wait, full: time the table was full")
    return "\n".join(lines)


def _floats(s: str, what: str) -> list[float]:
    try:
        vals = [float(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--{what}: expected comma-separated numbers, "
                                         f"got {s!r}") from None
    if not vals or any(not v > 0 for v in vals):
        raise argparse.ArgumentTypeError(f"--{what}: values must be positive, got {s!r}")
    return vals


def _window(s: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in s.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--window: expected START:END in ms, got {s!r}") \
            from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
        raise argparse.ArgumentTypeError(f"--window: need 0 <= START < END, got {s!r}")
    return lo, hi


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="dysta", description="Sparse-DySta simulations")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a workload scenario with the reference schedulers")
    r.add_argument("--workload", required=True, help="scenario name (arvr, ...) or .toml path")
    r.add_argument("--out", default="out", help="output directory (default: out)")
    r.add_argument("--sched", default=None,
                   help=f"comma-separated schedulers (default: all: {','.join(policy_names())})")
    r.add_argument("--rate", type=lambda s: _floats(s, "rate"), default=None,
                   help="arrival rate(s) in requests/s (default: the scenario's first)")
    r.add_argument("--load", type=lambda s: _floats(s, "load"), default=None,
                   help="load(s) as fractions of the accelerator's capacity (instead of "
                        "--rate; rate = load x Workload.capacity_rate())")
    r.add_argument("--slo", type=lambda s: _floats(s, "slo"), default=None,
                   help="SLO multiplier(s) (default: the scenario's first)")
    r.add_argument("--n", type=int, default=None, help="number of requests")
    r.add_argument("--seed", type=int, default=None, help="request-stream seed")
    r.add_argument("--backend", default=DEFAULT_BACKEND,
                   help="scheduler RTL backend beside the reference models: verilator "
                        "(default), pysim, or reference (models only)")
    r.add_argument("--protocol", default="fair", choices=sorted(PROTOCOLS),
                   help="comparison protocol (docs/scheduling.md): fair (default) or paper")
    r.add_argument("--shape-buckets", type=int, default=0, metavar="B",
                   help="host knows the input size at arrival: B > 1 size buckets per "
                        "variant in the static tables (default 0: off)")
    r.add_argument("--slots", type=int, default=DEFAULT_SLOTS,
                   help=f"scheduler task-table slots (default {DEFAULT_SLOTS})")
    r.add_argument("--lanes", type=int, default=DEFAULT_LANES,
                   help=f"datapath lanes: cycles from the cycle model (default {DEFAULT_LANES})")
    r.add_argument("--vcd", action="store_true", help="ask the backend for VCD traces")
    r.add_argument("--window", default=None, type=_window,
                   help="timeline window in ms, START:END (default: the first 30 requests)")
    r.add_argument("--policy", action="append", default=None, metavar="MODULE:CLASS",
                   help="add a scheduling policy from outside the tree (module:Class or "
                        "file.py:Class, a sw_scheduler.reference.Policy subclass; repeatable)")
    add_sweep_parser(sub)
    return ap


def _check_out(out: Path) -> Path:
    """Create ``out`` and a fresh staging folder in it before any work (fails early)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    except OSError as e:
        raise TraceError(f"--out {str(out)!r}: cannot write there ({e.strerror})") from None


def _publish(staging: Path, out: Path) -> None:
    """Move every folder written in ``staging`` to ``out``, replacing the previous run's
    folder of the same name whole (no file of an earlier run stays beside new results)."""
    for d in sorted(staging.iterdir()):
        dest = out / d.name
        old = None
        if dest.exists():
            old = out / f".old-{d.name}-{os.getpid()}"
            dest.rename(old)
        d.rename(dest)
        if old is not None:
            shutil.rmtree(old)
    staging.rmdir()


def cmd_run(a) -> int:
    if a.backend != REFERENCE and a.backend not in BACKENDS:
        print(f"error: --backend: unknown backend {a.backend!r} (known: {REFERENCE}, "
              f"{', '.join(BACKENDS)})", file=sys.stderr)
        return 2
    if a.slots not in (4, 8, 16, 32, 64, 128, 256):
        print(f"error: --slots: must be a power of two in 4..256, got {a.slots}",
              file=sys.stderr)
        return 2
    for spec in a.policy or []:
        try:
            load_policy(spec)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    wl = load_workload(a.workload, lanes=a.lanes, protocol=a.protocol,
                       shape_buckets=a.shape_buckets)
    scheds = a.sched.split(",") if a.sched else policy_names()
    unknown = [s for s in scheds if s not in policy_names()]
    if unknown:
        print(f"error: --sched: unknown scheduler(s) {', '.join(unknown)} "
              f"(known: {', '.join(policy_names())})", file=sys.stderr)
        return 2
    if a.rate and a.load:
        print("error: give --rate or --load, not both", file=sys.stderr)
        return 2
    for x in a.load or []:
        check_value("--load", "load", x)
    for r in a.rate or []:
        check_value("--rate", "rate", r)
    for x in a.slo or []:
        check_value("--slo", "slo", x)
    if a.n is not None:
        check_value("--n", "num_requests", a.n, int)
    if a.seed is not None:
        check_value("--seed", "seed", a.seed, int)
    slos = a.slo or [wl.slo_multipliers[0]]
    n = a.n or wl.num_requests
    seed = wl.seed if a.seed is None else a.seed
    rates = a.rate or ([x * wl.capacity_rate(wl.static_tables()) for x in a.load] if a.load
                       else [wl.rates[0]])
    out = Path(a.out)
    staging = _check_out(out)
    try:
        points = _run_points(a, wl, scheds, rates, slos, n, seed, staging)
        _publish(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    for p in points:
        print(format_table(p))
        print()
    print(f"results in {out / wl.name if len(points) == 1 else out}")
    return 0


def _run_points(a, wl, scheds, rates, slos, n, seed, staging: Path) -> list:
    tables = wl.static_tables()
    base = staging / wl.name
    with warnings.catch_warnings(record=True) as caught:   # report, do not abort
        warnings.simplefilter("always", FixedPointWarning)
        img = tables.write_luts(base / "luts")      # the one quantisation of this run
    for w in caught:
        print(f"note: {w.message} (see the run's luts/manifest.json)", file=sys.stderr)
    combos = [(r, s) for r in rates for s in slos]
    points = []
    with tqdm(total=2 * len(combos) * len(scheds), desc=wl.name, unit="run",
              disable=None, leave=False) as bar:
        for r, s in combos:
            d = base if len(combos) == 1 else staging / f"{wl.name}-{_fmt(r)}-{_fmt(s)}"
            res = run_point(wl, tables, img, rate=r, slo=s, n=n, seed=seed, scheds=scheds,
                            backend=a.backend, vcd=a.vcd, out_dir=d, progress=bar,
                            slots=a.slots, window=a.window)
            res["rate"], res["slo"] = r, s
            points.append(res)
    if len(combos) > 1:
        summary = {"schedulers": points[0]["schedulers"], "config": points[0]["config"],
                   "points": [{"rate": p["rate"], "slo": p["slo"],
                               "schedulers": p["schedulers"]} for p in points]}
        (base / "results.json").write_text(json.dumps(summary, indent=2))
        _write_csv(base / "results.csv", points)
        plot_point(points[0], base)
        plot_sweep(points, base, wl.name)
    return points


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        if a.cmd == "run":
            return cmd_run(a)
        if a.cmd == "sweep":
            return cmd_sweep(a, point_fn=run_point, backends=[REFERENCE, *BACKENDS],
                             sched_names=policy_names(), hw_name=HW_NAME)
    except TraceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except HwInputError as e:
        print(f"error: hardware input: {e}", file=sys.stderr)
        return 2
    except HwMismatch as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    return 1


if __name__ == "__main__":
    sys.exit(main())

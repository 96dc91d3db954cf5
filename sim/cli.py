"""Command line: ``python -m sim run --workload NAME|path.toml --out DIR ...`` (also ``dysta``).

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
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from sw_scheduler.formats import DEFAULT_LANES, DEFAULT_SLOTS, FixedPointWarning
from sw_scheduler.lut_image import LutImages
from sw_scheduler.records import check_conservation
from sw_scheduler.reference import make_policy, policy_names, simulate
from sw_scheduler.static import StaticTables
from traces.format import TraceError

from .hw_row import HwInputError, HwMismatch, check_hw_inputs, hw_backend
from .metrics import METRIC_KEYS, compute_metrics
from .plots import plot_point, plot_sweep
from .workload import Workload, load_workload

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
              vcd=False, out_dir: Path, progress=None, slots: int = DEFAULT_SLOTS) -> dict:
    """Run one (rate, SLO) point; write its files into ``out_dir``; return the results."""
    reqs = wl.requests(rate=rate, slo=slo, n=n, seed=seed, tables=tables)
    if backend != REFERENCE:
        check_hw_inputs(reqs, images, slots)        # before any model runs
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in scheds:
        for cap in (None, slots):
            comp = simulate(reqs, make_policy(name, tables), capacity=cap)
            rows[name if cap is None else bounded_name(name, slots)] = {
                **compute_metrics(comp, wl.clock_hz), "backend": REFERENCE, "slots": cap}
            if progress is not None:
                progress.update(1)
    backend_status = "ok"
    extra = {}
    if backend != REFERENCE:
        ctx = RunContext(workload=wl, tables=tables, images=images, requests=reqs,
                         rate=rate, slo=slo, seed=seed, out_dir=out_dir, vcd=vcd,
                         slots=slots, lanes=wl.lanes, scheds=list(scheds))
        for name, comp in BACKENDS[backend](ctx).items():
            check_conservation(reqs, comp, where=f"backend {backend!r} result {name!r}")
            extra[name] = {**compute_metrics(comp, wl.clock_hz), "backend": backend,
                           "slots": slots, **ctx.notes.get(name, {})}
    sched_res = {}                      # each scheduler's rows together
    for name in scheds:
        for key in (name, bounded_name(name, slots), f"{name}-hw"):
            if key in rows:
                sched_res[key] = rows.pop(key)
            elif key in extra:
                sched_res[key] = extra.pop(key)
    sched_res.update(extra)
    fixture = any(v.fixture for v in wl.variants.values())
    res = {
        "schedulers": sched_res,
        "config": {
            "workload": wl.name, "workload_file": str(wl.path), "traces": wl.traces,
            "fixture_traces": fixture, "rate": rate, "slo": slo, "n": n, "seed": seed,
            "clock_hz": wl.clock_hz, "profile_fraction": wl.profile_fraction,
            "beta": tables.beta, "kappa_cycles": tables.kappa_cycles,
            "backend": backend, "backend_status": backend_status, "vcd": vcd,
            "slots": slots, "lanes": wl.lanes,
            "schedulers": list(scheds), "lut_saturated": images.saturated,
        },
    }
    (out_dir / "results.json").write_text(json.dumps(res, indent=2))
    _write_csv(out_dir / "results.csv", [res])
    plot_point(res, out_dir)
    return res


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
    lines = [f"{c['workload']}: rate {_fmt(c['rate'])}/s, SLO x{_fmt(c['slo'])}, "
             f"{c['n']} requests, seed {c['seed']}"
             + ("  [FIXTURE traces: not a benchmark]" if c["fixture_traces"] else ""),
             (f"{'scheduler':22s} {'slots':>5s} {'viol%':>7s} {'ANTT':>9s} {'STP/s':>8s} "
              f"{'p99 ms':>9s} {'fair':>6s} {'wait ms':>8s} {'full%':>6s}")]
    for name, m in res["schedulers"].items():
        hw = "table_full_fraction" in m
        lines.append(f"{name:22s} {m.get('slots') or '-':>5} {100 * m['violation_rate']:7.2f} "
                     f"{m['antt']:9.3f} {m['stp']:8.1f} {m['p99']:9.3f} {m['fairness']:6.3f}"
                     + (f" {m['mean_wait_ms']:8.2f} {100 * m['table_full_fraction']:6.2f}"
                        if hw else ""))
    lines.append(f"(s: reference model, unbounded queue; s[{c['slots']}]: the same with the "
                 f"hardware's {c['slots']}-entry table, FIFO admission; s-hw: the RTL; wait: "
                 f"mean back-pressure wait, full: time the table was full)")
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
    r.add_argument("--slo", type=lambda s: _floats(s, "slo"), default=None,
                   help="SLO multiplier(s) (default: the scenario's first)")
    r.add_argument("--n", type=int, default=None, help="number of requests")
    r.add_argument("--seed", type=int, default=None, help="request-stream seed")
    r.add_argument("--backend", default=DEFAULT_BACKEND,
                   help="scheduler RTL backend beside the reference models: verilator "
                        "(default), pysim, or reference (models only)")
    r.add_argument("--slots", type=int, default=DEFAULT_SLOTS,
                   help=f"scheduler task-table slots (default {DEFAULT_SLOTS})")
    r.add_argument("--lanes", type=int, default=DEFAULT_LANES,
                   help=f"datapath lanes: cycles from the cycle model (default {DEFAULT_LANES})")
    r.add_argument("--vcd", action="store_true", help="ask the backend for VCD traces")
    return ap


def cmd_run(a) -> int:
    if a.backend != REFERENCE and a.backend not in BACKENDS:
        print(f"error: --backend: unknown backend {a.backend!r} (known: {REFERENCE}, "
              f"{', '.join(BACKENDS)})", file=sys.stderr)
        return 2
    if a.slots not in (4, 8, 16, 32, 64, 128, 256):
        print(f"error: --slots: must be a power of two in 4..256, got {a.slots}",
              file=sys.stderr)
        return 2
    wl = load_workload(a.workload, lanes=a.lanes)
    scheds = a.sched.split(",") if a.sched else policy_names()
    unknown = [s for s in scheds if s not in policy_names()]
    if unknown:
        print(f"error: --sched: unknown scheduler(s) {', '.join(unknown)} "
              f"(known: {', '.join(policy_names())})", file=sys.stderr)
        return 2
    if a.n is not None and a.n <= 0:
        print(f"error: --n must be positive, got {a.n}", file=sys.stderr)
        return 2
    rates = a.rate or [wl.rates[0]]
    slos = a.slo or [wl.slo_multipliers[0]]
    n = a.n or wl.num_requests
    seed = wl.seed if a.seed is None else a.seed
    tables = wl.static_tables()
    out = Path(a.out)
    base = out / wl.name
    with warnings.catch_warnings(record=True) as caught:   # report, do not abort
        warnings.simplefilter("always", FixedPointWarning)
        img = tables.write_luts(base / "luts")      # the one quantisation of this run
    for w in caught:
        print(f"note: {w.message} (see {base / 'luts' / 'manifest.json'})", file=sys.stderr)
    combos = [(r, s) for r in rates for s in slos]
    points = []
    with tqdm(total=2 * len(combos) * len(scheds), desc=wl.name, unit="run",
              disable=None, leave=False) as bar:
        for r, s in combos:
            d = base if len(combos) == 1 else out / f"{wl.name}-{_fmt(r)}-{_fmt(s)}"
            res = run_point(wl, tables, img, rate=r, slo=s, n=n, seed=seed, scheds=scheds,
                            backend=a.backend, vcd=a.vcd, out_dir=d, progress=bar,
                            slots=a.slots)
            res["rate"], res["slo"] = r, s
            points.append(res)
    for p in points:
        print(format_table(p))
        print()
    if len(combos) > 1:
        summary = {"schedulers": points[0]["schedulers"], "config": points[0]["config"],
                   "points": [{"rate": p["rate"], "slo": p["slo"],
                               "schedulers": p["schedulers"]} for p in points]}
        base.mkdir(parents=True, exist_ok=True)
        (base / "results.json").write_text(json.dumps(summary, indent=2))
        _write_csv(base / "results.csv", points)
        plot_point(points[0], base)
        plot_sweep(points, base, wl.name)
    print(f"results in {base if len(combos) == 1 else out}")
    return 0


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        if a.cmd == "run":
            return cmd_run(a)
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

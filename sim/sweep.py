"""Sweeps: ``python -m sim sweep`` / ``make sweep`` — a grid of run points, each computed once.

Grid: the axes ``workload, sched, load | rate, slo, seed, n, slots, lanes, backend`` and
any other keyword of the point function (``protocol``, ...), as comma lists (integer
ranges ``0-4``) on the command line or in a TOML grid file (``--grid``; top-level keys
are axes, an optional ``[cluster]`` table holds ``dask_jobqueue`` options). Per workload
the defaults are its file's ``rates``, ``slo_multipliers``, ``seed`` and
``num_requests``, every reference scheduler, 16 slots, 16 lanes, backend ``reference``.
``load`` is a fraction of the accelerator's capacity (:meth:`Workload.capacity_rate`);
the rate it maps to is in every result. A hardware backend adds its ``dysta-hw`` row.

Points: one per combination of axes and scheduler, keyed by a hash of its parameters,
the workload's content (scenario file and every trace file it names) and the code
(:func:`sim.sweep_exec.code_version`). Its result is ``OUT/points/<key>.json``, written
by the parent atomically (temp file + rename) as soon as its task returns. A rerun
computes only the points without a file: an interrupted sweep resumes, a finished one
returns at once. The schedulers of one request stream form one task (the stream is
generated once); tasks run in this process (``--jobs 1``), on local worker processes
(default: one per core) or on a Dask cluster (``--cluster``).

Folder: OUT is locked for the whole sweep (``flock`` on ``OUT/.sweep.lock``); a second
sweep into it stops at once with an error naming the holder. OUT holds ``summary.csv``
and ``summary.json`` (per point without the seed: mean, std and Student-t 95 % CI half
width of every metric over the seeds), ``points.csv`` (every point), ``plots/`` and
``sweep.json`` (grid, key digest, counts); these always describe exactly the last grid.
Every run option is a keyword of one point function (:func:`sim.cli.run_point`) that
the workers call with the point's parameters, so a new run option is a new axis.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import itertools
import json
import os
import socket
import sys
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sw_scheduler.formats import DEFAULT_LANES, DEFAULT_SLOTS
from traces.format import TRACE_ROOT, TraceError

from .protocols import PROTOCOLS
from .sweep_exec import (
    JOBQUEUE_CLUSTERS,
    REFERENCE,
    Progress,
    Task,
    code_version,
    run_dask,
    run_local,
)
from .workload import default_workload, load_workload, resolve_workload

__all__ = ["AXES", "Point", "SweepError", "add_parser", "build_points", "cmd_sweep",
           "folder_lock", "run_sweep"]

# axis -> type of its values; order = column order of the summary
AXES = {"workload": str, "sched": str, "load": float, "rate": float, "slo": float,
        "seed": int, "n": int, "slots": int, "lanes": int, "backend": str, "protocol": str,
        "shape_buckets": int}
# axes the sweep itself resolves (the workload is loaded with lanes, protocol and shape
# buckets); every other axis is a keyword of the point function
_LOAD_OPTS = ("protocol", "shape_buckets")      # workload options: a point carries them
_OWN = ("workload", "sched", "load", "rate", "lanes", "backend", *_LOAD_OPTS)
SLOT_CHOICES = (4, 8, 16, 32, 64, 128, 256)


class SweepError(ValueError):
    """Bad grid or folder: a one-line message naming the axis / file and the value."""


# ---- grid --------------------------------------------------------------------------------

def _one(axis: str, v, where: str):
    kind = AXES.get(axis)
    if kind is None:                       # an extra axis: int, else float, else text
        for k in (int, float):
            try:
                return k(v)
            except (TypeError, ValueError):
                pass
        return str(v)
    try:
        if kind is int and isinstance(v, float) and not v.is_integer():
            raise ValueError
        x = kind(v) if kind is not str else str(v).strip()
    except (TypeError, ValueError):
        raise SweepError(f"{where}: axis {axis!r}: expected "
                         f"{'an integer' if kind is int else 'a number'}, got {v!r}") from None
    if kind is float and not x > 0:
        raise SweepError(f"{where}: axis {axis!r}: values must be positive, got {v!r}")
    if kind is int and x < (0 if axis == "seed" else 1):
        raise SweepError(f"{where}: axis {axis!r}: values must be "
                         f"{'non-negative' if axis == 'seed' else 'positive'}, got {v!r}")
    if kind is str and not x:
        raise SweepError(f"{where}: axis {axis!r}: empty value")
    return x


def parse_axis(axis: str, raw, where: str = "command line") -> list:
    """Values of one axis from ``"a,b"`` / ``"0-4,7"`` (integer axes) / a TOML list/scalar."""
    if isinstance(raw, str):
        items = []
        for tok in (t.strip() for t in raw.split(",")):
            lo, sep, hi = tok.partition("-")
            if sep and AXES.get(axis) is int and lo.strip().isdigit() and hi.strip().isdigit():
                a, b = int(lo), int(hi)
                if b < a:
                    raise SweepError(f"{where}: axis {axis!r}: empty range {tok!r}")
                items.extend(range(a, b + 1))
            elif tok:
                items.append(tok)
    elif isinstance(raw, list):
        items = raw
    else:
        items = [raw]
    vals = [_one(axis, v, where) for v in items]
    if not vals:
        raise SweepError(f"{where}: axis {axis!r}: no values in {raw!r}")
    if len(set(vals)) != len(vals):
        raise SweepError(f"{where}: axis {axis!r}: repeated value in {raw!r}")
    return vals


def read_grid(path) -> tuple[dict, dict]:
    """``(axes, cluster options)`` of a TOML grid file."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{p}: no such grid file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SweepError(f"{p}: not a valid TOML grid file ({e})") from None
    cluster = doc.pop("cluster", {})
    if not isinstance(cluster, dict):
        raise SweepError(f"{p}: field 'cluster' must be a table, got {cluster!r}")
    axes = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            raise SweepError(f"{p}: field {k!r}: an axis takes a value or a list, got a table")
        axes[k] = parse_axis(k, v, f"{p}: field {k!r}")
    return axes, cluster


@dataclass(frozen=True)
class Point:
    params: dict        # every axis, incl. "sched"
    key: str


def _workload_digest(path: Path, wl) -> str:
    """Hash of the scenario file and every trace file it names."""
    h = hashlib.sha256(path.read_bytes())
    for m in wl.models:
        for pat in m.patterns:
            h.update(f"\0{m.name}/{pat}\0".encode())
            h.update((TRACE_ROOT / wl.traces / m.name / f"{pat}.npz").read_bytes())
    return h.hexdigest()[:20]


def point_key(params: dict, digest: str, code: str) -> str:
    doc = json.dumps({"params": params, "workload": digest, "code": code}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


def _keywords(fn) -> tuple[set, bool]:
    ps = inspect.signature(fn).parameters.values()
    return ({p.name for p in ps if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)},
            any(p.kind is p.VAR_KEYWORD for p in ps))


def build_points(grid: dict, *, point_fn, backends, sched_names, hw_name: str) -> list[Point]:
    """Expand ``grid`` (axis -> values) into points in summary order; validate every value."""
    grid = dict(grid)
    if "load" in grid and "rate" in grid:
        raise SweepError("give the axis 'load' or 'rate', not both")
    names, var_kw = _keywords(point_fn)
    fn_name = f"{point_fn.__module__}.{point_fn.__qualname__}"
    passed = [a for a in grid if a not in _OWN]
    for a in passed:
        if a not in names and not var_kw:
            raise SweepError(f"axis {a!r}: the point function {fn_name} has no keyword {a!r} "
                             "(no such run option in this version)")
    for s in grid.get("sched", []):
        if s not in sched_names and s != hw_name:
            raise SweepError(f"axis 'sched': unknown scheduler {s!r} "
                             f"(known: {', '.join(sched_names)}, {hw_name})")
    for b in grid.get("backend", []):
        if b not in backends:
            raise SweepError(f"axis 'backend': unknown backend {b!r} "
                             f"(known: {', '.join(backends)})")
    for p in grid.get("protocol", []):
        if p not in PROTOCOLS:
            raise SweepError(f"axis 'protocol': unknown protocol {p!r} "
                             f"(known: {', '.join(PROTOCOLS)})")
    for b in grid.get("shape_buckets", []):
        if not 0 <= b <= 64:
            raise SweepError(f"axis 'shape_buckets': must be in 0..64, got {b}")
    for s in grid.get("slots", []):
        if s not in SLOT_CHOICES:
            raise SweepError(f"axis 'slots': must be a power of two in 4..256, got {s}")
    code = code_version()
    extras = sorted(a for a in grid if a not in AXES)
    points, seen = [], set()
    for wname in grid.get("workload", [default_workload()]):
        path = resolve_workload(wname)
        digest = None
        for lanes in grid.get("lanes", [DEFAULT_LANES]):
            wl = load_workload(wname, lanes=lanes)       # validates the lanes too
            digest = digest or _workload_digest(path, wl)
            xaxis = "load" if "load" in grid else "rate"
            vals = {"slots": grid.get("slots", [DEFAULT_SLOTS]),
                    "backend": grid.get("backend", [REFERENCE]),
                    "protocol": grid.get("protocol"),
                    "shape_buckets": grid.get("shape_buckets"), **{e: grid[e] for e in extras},
                    "n": grid.get("n", [wl.num_requests]),
                    xaxis: grid.get(xaxis, list(wl.rates)),
                    "slo": grid.get("slo", list(wl.slo_multipliers)),
                    "seed": grid.get("seed", [wl.seed])}
            order = [a for a, v in vals.items() if v is not None]
            for combo in itertools.product(*(vals[a] for a in order)):
                c = dict(zip(order, combo))
                scheds = list(grid.get("sched", sched_names))
                if c["backend"] == REFERENCE and hw_name in scheds:
                    raise SweepError(f"axis 'sched': {hw_name!r} needs a hardware backend "
                                     f"(backend {REFERENCE!r} runs the models only)")
                if c["backend"] != REFERENCE and hw_name not in scheds:
                    scheds.append(hw_name)
                for s in scheds:
                    params = {"workload": wname, "sched": s, xaxis: c[xaxis], "slo": c["slo"],
                              "seed": c["seed"], "n": c["n"], "slots": c["slots"],
                              "lanes": lanes, "backend": c["backend"],
                              **{a: c[a] for a in order if a not in AXES or a in _LOAD_OPTS}}
                    key = point_key(params, digest, code)
                    if key not in seen:
                        seen.add(key)
                        points.append(Point(params, key))
    return points


def _label(params: dict) -> str:
    x = f"load {params['load']:g}" if "load" in params else f"rate {params['rate']:g}/s"
    extra = "".join(f", {a} {params[a]}" for a in params
                    if a not in AXES or a in _LOAD_OPTS)
    return (f"[{params['workload']} {x}, SLO x{params['slo']:g}, seed {params['seed']}, "
            f"n {params['n']}, {params['slots']} slots x {params['lanes']} lanes, "
            f"{params['backend']}{extra}]")


def make_tasks(points, *, point_fn, hw_name: str) -> list[Task]:
    """Group points sharing everything but the scheduler into tasks (grid order)."""
    groups: dict = {}
    for p in points:
        common = tuple((a, v) for a, v in p.params.items() if a != "sched")
        groups.setdefault(common, []).append(p)
    code = code_version()
    return [Task(params=common, scheds=tuple(p.params["sched"] for p in ps),
                 keys=tuple(p.key for p in ps), label=_label(dict(common)),
                 point_fn=point_fn, hw_name=hw_name, code=code)
            for common, ps in groups.items()]


# ---- folder ------------------------------------------------------------------------------

@contextmanager
def folder_lock(out: Path, what: str = "sweep"):
    """Hold ``OUT/.sweep.lock`` (released by the OS if the process dies) or fail at once."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    fh = open(out / ".sweep.lock", "a+")  # noqa: SIM115 -- held for the whole block
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise SweepError(f"{out}: another sweep is writing this folder ({holder}); "
                         "wait for it or give another OUT") from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {what}\n")
        fh.flush()
        yield
    finally:
        fh.seek(0)
        fh.truncate()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


class PointStore:
    """``DIR/<key>.json`` per point; written atomically by the (single) sweep holding OUT."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def load(self, key: str) -> dict | None:
        """The point's document, or None if missing or unreadable (then it is recomputed)."""
        try:
            doc = json.loads(self.path(key).read_text())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError, OSError):
            return None
        return doc if isinstance(doc, dict) and doc.get("key") == key else None

    def write(self, key: str, doc: dict):
        tmp = self.dir / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, self.path(key))

    def clean_temp(self):
        """Remove temp files a killed sweep left (only the lock holder calls this)."""
        for p in self.dir.glob(".*.tmp"):
            p.unlink(missing_ok=True)


# ---- the sweep ---------------------------------------------------------------------------

def _digest(points) -> str:
    return hashlib.sha256("\n".join(p.key for p in points).encode()).hexdigest()[:20]


def _summary_current(out: Path, digest: str) -> bool:
    """The folder's summary files are those of exactly this set of points."""
    try:
        man = json.loads((out / "sweep.json").read_text())
    except (FileNotFoundError, ValueError):
        return False
    return man.get("digest") == digest and all((out / f).is_file() for f in man["files"])


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def run_sweep(points, out: Path, *, point_fn, hw_name: str, jobs: int = 1,
              cluster: str | None = None, cluster_options: dict | None = None,
              plots: bool = True, progress_every: float = 10.0, stream=None,
              grid: dict | None = None, always_pool: bool = False) -> dict:
    """Compute the missing points of ``points`` into ``out``; write the summary; report.

    Returns counts (``points, cached, computed, failed``), ``up_to_date``, ``seconds`` and
    its parts ``compute_seconds`` (up to the last result) and ``summary_seconds``.
    """
    from .sweep_summary import write_summary

    stream = stream if stream is not None else sys.stderr
    out = Path(out)
    t0 = time.perf_counter()
    with folder_lock(out, f"{len(points)} points"):
        store = PointStore(out / "points")
        store.clean_temp()
        digest = _digest(points)
        report = {"points": len(points), "computed": 0, "failed": 0, "up_to_date": False}
        docs = {p.key: store.load(p.key) for p in points}
        missing = [p for p in points if docs[p.key] is None]
        report["cached"] = len(points) - len(missing)
        if not missing and _summary_current(out, digest):
            report.update(up_to_date=True, seconds=time.perf_counter() - t0)
            return report
        tasks = make_tasks(missing, point_fn=point_fn, hw_name=hw_name)
        where = (f"Dask cluster {cluster}" if cluster else
                 "this process" if jobs <= 1 or len(tasks) <= 1 else
                 f"up to {min(jobs, len(tasks))} local worker processes")
        print(f"sweep: {len(points)} points, {report['cached']} already done, "
              f"{len(missing)} to compute in {len(tasks)} tasks on {where}; out {out}",
              file=stream, flush=True)
        if tasks:
            prog = Progress(len(missing), stream=stream, every=progress_every)
            prog.start()
            results = (run_dask(tasks, cluster, cluster_options) if cluster else
                       run_local(tasks, jobs, always_pool=always_pool))
            try:
                for task, res, err in results:
                    if err is not None:
                        report["failed"] += len(task.keys)
                        prog.message(f"error: {task.label}: {_one_line(err)}")
                    else:
                        for line in res["log"].splitlines():
                            prog.message(f"{task.label} {line}")
                        _store_task(store, docs, task, res)
                        report["computed"] += len(task.keys)
                    prog.update(len(task.keys))
            finally:
                prog.close()
        t1 = time.perf_counter()
        done = [p for p in points if docs[p.key] is not None]
        files = write_summary(out, [docs[p.key] for p in done], grid=grid, plots=plots,
                              jobs=jobs)
        report["compute_seconds"] = t1 - t0
        report["summary_seconds"] = time.perf_counter() - t1
        man = {"grid": grid, "points": len(points), "digest": digest if not report["failed"]
               else None, "code_version": code_version(), "files": files,
               "computed": report["computed"], "cached": report["cached"],
               "failed": report["failed"], "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        (out / "sweep.json").write_text(json.dumps(man, indent=2))
        report["seconds"] = time.perf_counter() - t0
        return report


def _store_task(store: PointStore, docs: dict, task: Task, res: dict):
    params = dict(task.params)
    for sched, key in zip(task.scheds, task.keys):
        doc = {"key": key, "params": {**params, "sched": sched},
               "metrics": res["results"][sched], "rate": res["rate"], "load": res["load"],
               "capacity_rate": res["capacity_rate"], "config": res["config"],
               "provenance": {"code_version": task.code, "task": task.keys[0],
                              "host": res["host"],
                              "pid": res["pid"], "task_seconds": res["seconds"],
                              "task_cpu_seconds": res["cpu_seconds"],
                              "prepare_seconds": res["prepare_seconds"],
                              "lut_notes": res["lut_notes"],
                              "created": time.strftime("%Y-%m-%d %H:%M:%S")}}
        store.write(key, doc)
        docs[key] = doc


# ---- command line ------------------------------------------------------------------------

def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def add_parser(sub):
    """The ``sweep`` subcommand of :func:`sim.cli.build_parser`."""
    s = sub.add_parser("sweep", help="a grid of runs over local cores or a Dask cluster; "
                                     "resumable; summary with 95 %% CIs over seeds")
    s.add_argument("--grid", help="TOML grid file (top-level keys are axes; command-line "
                                  "axes override it)")
    for axis, what in (("workload", "scenario names or .toml paths"),
                       ("sched", "schedulers (default: every reference scheduler)"),
                       ("load", "loads as fractions of capacity (instead of --rate)"),
                       ("rate", "arrival rates in requests/s"), ("slo", "SLO multipliers"),
                       ("seeds", "request-stream seeds, e.g. 0-4"), ("n", "request counts"),
                       ("protocol", "comparison protocols: fair, paper"),
                       ("shape_buckets", "input-size buckets of the static tables (0: off)"),
                       ("slots", "scheduler task-table slots"), ("lanes", "datapath lanes"),
                       ("backend", "reference | pysim | verilator (adds the dysta-hw row)")):
        s.add_argument(f"--{axis.replace('_', '-')}", dest=axis, metavar="LIST", help=what)
    s.add_argument("--seed", dest="seeds", metavar="LIST", help=argparse.SUPPRESS)
    s.add_argument("--set", action="append", default=[], metavar="AXIS=LIST",
                   help="any other keyword of the point function as an axis")
    s.add_argument("--out", default="out/sweep", help="sweep folder (default out/sweep)")
    s.add_argument("--jobs", type=int, default=None,
                   help=f"local worker processes (default: all cores, here {_cores()})")
    s.add_argument("--always-pool", action="store_true",
                   help="start the local worker pool even for work shorter than starting it")
    s.add_argument("--cluster", default=None,
                   help="Dask scheduler address, local[:N], or "
                        f"{'|'.join(JOBQUEUE_CLUSTERS)} (dask-jobqueue, options in [cluster])")
    s.add_argument("--progress-every", type=float, default=10.0, metavar="SECONDS",
                   help="seconds between progress lines when not on a terminal")
    s.add_argument("--no-plots", action="store_true", help="write the summary without plots")
    return s


def grid_from_args(a) -> tuple[dict, dict]:
    grid, cluster_opts = read_grid(a.grid) if a.grid else ({}, {})
    for axis in ("workload", "sched", "load", "rate", "slo", "seeds", "n", "protocol",
                 "shape_buckets", "slots", "lanes", "backend"):
        raw = getattr(a, axis)
        if raw is not None:
            name = "seed" if axis == "seeds" else axis
            grid[name] = parse_axis(name, raw, f"--{axis}")
            if name in ("load", "rate"):        # the command line's x axis replaces the file's
                grid.pop("rate" if name == "load" else "load", None)
    for item in a.set:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise SweepError(f"--set: expected AXIS=LIST, got {item!r}")
        grid[name.strip()] = parse_axis(name.strip(), raw, f"--set {name.strip()}")
    return grid, cluster_opts


def cmd_sweep(a, *, point_fn, backends, sched_names, hw_name: str) -> int:
    """Run ``python -m sim sweep``; 0 when every point is done, 1 if some failed, 2 bad input."""
    try:
        grid, cluster_opts = grid_from_args(a)
        if a.jobs is not None and a.jobs < 1:
            raise SweepError(f"--jobs must be at least 1, got {a.jobs}")
        if a.cluster and cluster_opts and a.cluster not in JOBQUEUE_CLUSTERS:
            print(f"note: the grid's [cluster] options apply to {'/'.join(JOBQUEUE_CLUSTERS)}"
                  f" only; ignored for --cluster {a.cluster}", file=sys.stderr)
        points = build_points(grid, point_fn=point_fn, backends=backends,
                              sched_names=sched_names, hw_name=hw_name)
        rep = run_sweep(points, Path(a.out), point_fn=point_fn, hw_name=hw_name,
                        jobs=a.jobs or _cores(), cluster=a.cluster,
                        cluster_options=cluster_opts, plots=not a.no_plots,
                        progress_every=a.progress_every, always_pool=a.always_pool,
                        grid={k: v for k, v in grid.items()})
    except (SweepError, TraceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sweep interrupted: finished points are kept in {a.out}/points; "
              "rerun the same command to resume", file=sys.stderr)
        return 130
    except (RuntimeError, OSError) as e:     # e.g. Dask missing, cluster unreachable
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    out = Path(a.out)
    if rep["up_to_date"]:
        print(f"sweep up to date: {rep['points']} points, nothing to compute "
              f"({rep['seconds']:.2f} s); summary in {out / 'summary.csv'}")
        return 0
    print(f"sweep: {rep['points']} points ({rep['computed']} computed, {rep['cached']} cached"
          f"{', ' + str(rep['failed']) + ' FAILED' if rep['failed'] else ''}) in "
          f"{rep['seconds']:.1f} s; summary in {out / 'summary.csv'}")
    if rep["failed"]:
        print(f"error: {rep['failed']} points failed (see the lines above); the summary "
              "lacks them; rerun to retry", file=sys.stderr)
        return 1
    return 0

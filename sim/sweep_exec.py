"""Where sweep tasks run: in this process, on local worker processes, or on a Dask cluster.

A :class:`Task` is one request stream (every axis fixed but the scheduler) and the
schedulers of it still missing; :func:`run_task` runs it wherever it lands and returns
plain data, so the parent alone writes point files (no shared file system needed). Each
worker process keeps what depends only on (workload, lanes) — the loaded traces, static
tables, LUT images and capacity — in :data:`_PREPARED`, so a point costs its request
stream and its simulations only.

Executors yield ``(task, result, error)`` in completion order: :func:`run_inline`,
:func:`run_local` (``concurrent.futures`` with forkserver processes, the modules
preloaded once; started only when the work outlasts starting them) and :func:`run_dask` (``dask.distributed``, imported only here; a scheduler
address, ``local[:N]`` for an in-process ``LocalCluster``, or ``slurm``/``pbs``/... for
a ``dask_jobqueue`` cluster). :class:`Progress` reports done/total, rate and ETA: one
redrawn line on a terminal, a plain line every few seconds in a log.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing as mp
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from contextlib import redirect_stderr
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sw_scheduler.formats import FixedPointWarning

from .workload import load_workload

__all__ = ["JOBQUEUE_CLUSTERS", "Progress", "Task", "code_version", "run_dask", "run_inline",
           "run_local", "run_task"]

REFERENCE = "reference"
_PACKAGES = ("traces", "sw_scheduler", "rtl", "sim")


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of every source file of the four packages (+ numpy's version): a point key part.

    Any edit to the simulator, the models or the cycle model gives new keys, so a cached
    point is never one computed by other code. Trace data is hashed per workload instead.
    """
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(f"numpy {np.__version__}\n".encode())
    for pkg in _PACKAGES:
        for p in sorted((root / pkg).rglob("*")):
            if p.suffix in (".py", ".cpp") and p.is_file() and "__pycache__" not in p.parts:
                h.update(p.relative_to(root).as_posix().encode() + b"\0")
                h.update(p.read_bytes() + b"\0")
    return h.hexdigest()[:20]


@dataclass(frozen=True)
class Task:
    """One request stream of a sweep: fixed axes, the schedulers to run, their point keys."""

    params: tuple          # ((axis, value), ...) every axis but "sched"
    scheds: tuple          # scheduler names still missing for these params
    keys: tuple            # point key of each scheduler, same order
    label: str             # which point this is, for progress and log lines
    point_fn: object       # the point function (picklable by reference, e.g. cli.run_point)
    hw_name: str           # result name the hardware backend adds (not a reference model)
    code: str              # the parent's code_version(); a worker with other code refuses


@dataclass
class _Prepared:
    wl: object
    tables: object
    images: object
    capacity: float
    notes: list
    seconds: float


_PREPARED: dict = {}
_PREP_LOCK = threading.Lock()


def _prepared(workload: str, lanes: int, protocol: str = "fair",
              shape_buckets: int = 0) -> tuple[_Prepared, float]:
    """The cached per-(workload, lanes, protocol, shape buckets) data of this process;
    ``(data, seconds spent now)``."""
    key = (workload, lanes, protocol, shape_buckets)
    with _PREP_LOCK:
        if key in _PREPARED:
            return _PREPARED[key], 0.0
        t0 = time.perf_counter()
        wl = load_workload(workload, lanes=lanes, protocol=protocol,
                           shape_buckets=shape_buckets)
        tables = wl.static_tables()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FixedPointWarning)
            images = tables.to_lut_images()
        prep = _Prepared(wl, tables, images, wl.capacity_rate(tables),
                         [str(w.message) for w in caught], 0.0)
        prep.seconds = time.perf_counter() - t0
        _PREPARED[key] = prep
        return prep, prep.seconds


def run_task(task: Task) -> dict:
    """Run one task (in any process); return its metrics per scheduler and provenance."""
    mine = code_version()
    if mine != task.code:
        raise RuntimeError(f"worker {socket.gethostname()}:{os.getpid()} runs other code "
                           f"(version {mine}, sweep {task.code}); install the same tree there")
    t0, c0 = time.perf_counter(), time.process_time()
    kw = dict(task.params)
    prep, prep_s = _prepared(kw.pop("workload"), kw.pop("lanes"),
                             kw.pop("protocol", "fair"), kw.pop("shape_buckets", 0))
    load, rate = kw.pop("load", None), kw.pop("rate", None)
    if load is not None:
        rate = load * prep.capacity
    backend = kw.pop("backend")
    refs = [s for s in task.scheds if s != task.hw_name]
    run_backend = backend if task.hw_name in task.scheds else REFERENCE
    log = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="sweep-") as d, redirect_stderr(log):
        res = task.point_fn(prep.wl, prep.tables, prep.images, rate=rate, scheds=refs,
                            backend=run_backend, out_dir=Path(d), write=False, **kw)
        hw = Path(d) / "hw.json"
        hw_info = json.loads(hw.read_text()) if hw.is_file() else None
    results = {}
    for s in task.scheds:
        m = dict(res["schedulers"][s])
        if s == task.hw_name and hw_info is not None:
            m["hw"] = hw_info
        results[s] = m
    cfg = {k: v for k, v in res["config"].items() if k != "schedulers"}
    cfg["backend"] = backend
    return {"results": results, "config": cfg, "rate": rate, "load": rate / prep.capacity,
            "capacity_rate": prep.capacity, "lut_notes": prep.notes,
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "prepare_seconds": prep_s,
            "log": log.getvalue(), "host": socket.gethostname(), "pid": os.getpid()}


# ---- executors ---------------------------------------------------------------------------

def _run_here(t):
    try:
        return t, run_task(t), None
    except Exception as e:  # noqa: BLE001 -- one failed point must not stop the sweep
        return t, None, e


def run_inline(tasks):
    """Run the tasks one after the other in this process."""
    for t in tasks:
        yield _run_here(t)


def _mp_context():
    """forkserver (modules imported once in the server, workers forked from it), else spawn."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["sim.cli", "sim.sweep_exec"])
        return ctx
    return mp.get_context("spawn")


def _worker_init():
    """Ctrl-C goes to the sweep process, which cancels the queue; running tasks finish."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# Seconds until a local pool can take work: the forkserver imports the simulator once
# (measured 1.3 s on the 2-core development machine; `make bench` -> sweep.json).
POOL_START_S = 1.5


def run_local(tasks, jobs: int, *, always_pool: bool = False):
    """Run the tasks on up to ``jobs`` local worker processes.

    The first task runs in this process; the pool is started only if the remaining tasks
    would take longer than :data:`POOL_START_S` here (``always_pool`` skips that test).
    While the pool starts, this process keeps running tasks.
    """
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait

    queue = deque(tasks)
    if not queue:
        return
    if jobs <= 1:
        yield from run_inline(queue)
        return
    if not always_pool:
        t0 = time.perf_counter()
        first = _run_here(queue.popleft())
        spent = time.perf_counter() - t0 - (first[1]["prepare_seconds"] if first[1] else 0.0)
        yield first
        if len(queue) * spent <= POOL_START_S:
            yield from run_inline(queue)
            return
    ex = ProcessPoolExecutor(max_workers=min(jobs, len(queue)), mp_context=_mp_context(),
                             initializer=_worker_init)
    try:
        warm = [ex.submit(os.getpid) for _ in range(min(jobs, len(queue)))]
        while len(queue) > 1 and not always_pool:          # work here while the pool starts
            if wait(warm, timeout=0, return_when=FIRST_COMPLETED).done:
                break
            yield _run_here(queue.popleft())
        futs = {ex.submit(run_task, t): t for t in queue}
        queue.clear()
        for f in as_completed(futs):
            try:
                res = f.result()
            except Exception as e:  # noqa: BLE001
                yield futs[f], None, e
            else:
                yield futs[f], res, None
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


# CLUSTER=<name> -> dask_jobqueue class (options from the grid file's [cluster] table)
JOBQUEUE_CLUSTERS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                     "lsf": "LSFCluster", "htcondor": "HTCondorCluster"}


def _open_cluster(spec: str, options: dict):
    """``(client address or cluster object, cluster to close or None)`` for ``spec``."""
    if spec == "local" or spec.startswith("local:"):
        from dask.distributed import LocalCluster

        n = int(spec.partition(":")[2] or os.cpu_count() or 1)
        c = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                         dashboard_address=None)
        return c, c
    if spec in JOBQUEUE_CLUSTERS:
        try:
            import dask_jobqueue
        except ImportError:
            raise RuntimeError(f"CLUSTER={spec} needs dask-jobqueue: pip install "
                               "'sparse-dysta[cluster]'") from None
        opts = dict(options)
        jobs = int(opts.pop("jobs", 1))
        c = getattr(dask_jobqueue, JOBQUEUE_CLUSTERS[spec])(**opts)
        c.scale(jobs=jobs)
        return c, c
    return spec, None


def run_dask(tasks, cluster: str, options: dict | None = None):
    """Run the tasks on a Dask cluster (``cluster``: address, ``local[:N]`` or a queue)."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("CLUSTER= needs dask.distributed: pip install "
                           "'dask[distributed]' (extra 'cluster')") from None
    target, owned = _open_cluster(cluster, options or {})
    client = Client(target)
    try:
        futs = {}
        for t in tasks:
            f = client.submit(run_task, t, key=f"sweep-{t.keys[0]}", pure=False)
            futs[f.key] = (f, t)
        for f in as_completed([f for f, _ in futs.values()]):
            t = futs[f.key][1]
            try:
                res = f.result()
            except Exception as e:  # noqa: BLE001
                yield t, None, e
            else:
                yield t, res, None
            f.release()
    finally:
        client.close()
        if owned is not None:
            owned.close()


# ---- progress ----------------------------------------------------------------------------

def _hms(s: float) -> str:
    s = round(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


class Progress:
    """``done/total`` with rate and ETA on ``stream``.

    On a terminal one line is redrawn (at most 10 times a second); otherwise (a log, CI) a
    plain line is printed every ``every`` seconds and at the end. :meth:`message` prints a
    line above the progress line.
    """

    def __init__(self, total: int, *, what: str = "points", label: str = "sweep",
                 stream=None, every: float = 10.0, tty: bool | None = None):
        self.total, self.what, self.label = total, what, label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self.done = 0
        self.t0 = self.last = time.monotonic()
        self._drawn = False

    def line(self) -> str:
        el = time.monotonic() - self.t0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        rate = self.done / el if el > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else None
        return (f"{self.label}: {self.done}/{self.total} {self.what} ({pct:.0f}%), "
                f"{rate:.2f} {self.what}/s, elapsed {_hms(el)}, "
                f"ETA {_hms(eta) if eta is not None else '?'}")

    def _emit(self):
        if self.tty:
            self.stream.write("\r\033[K" + self.line())
            self._drawn = True
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
        self.last = time.monotonic()

    def start(self):
        self._emit()

    def update(self, n: int = 1):
        self.done += n
        now = time.monotonic()
        if self.done >= self.total or now - self.last >= (0.1 if self.tty else self.every):
            self._emit()

    def message(self, text: str):
        if self.tty and self._drawn:
            self.stream.write("\r\033[K")
        self.stream.write(text.rstrip("\n") + "\n")
        if self.tty and self._drawn:
            self.stream.write(self.line())
        self.stream.flush()

    def close(self):
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

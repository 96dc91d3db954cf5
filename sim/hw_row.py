"""The hardware row of a run: the scheduler RTL on a system-simulation backend.

:func:`hw_backend` returns the callable the CLI runs for ``--backend pysim|verilator``:
the scheduler RTL (:func:`sim.system.run_system`, trace-driven NPU) on the point's
request stream, returned as ``dysta-hw``; besides it writes ``hw.json`` (configuration,
cycles, fast-forward, scheduler overhead, back-pressure waits, agreement with the
bit-exact model on the same stimulus), ``timeline.png`` and, with ``--vcd``,
``dysta-hw.vcd``. A disagreement with the bit-exact model raises :class:`HwMismatch`.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from tqdm import tqdm

from rtl.scheduler.layouts import SchedulerConfig

from .npu import TraceNPU
from .system import bitexact_agreement, completions_for_metrics, run_system
from .timeline import plot_timeline

__all__ = ["HW_NAME", "HwMismatch", "hw_backend"]

HW_NAME = "dysta-hw"


class HwMismatch(RuntimeError):
    """The RTL and the bit-exact model disagreed on the same stimulus."""


def hw_backend(backend: str):
    """The callable ``fn(ctx) -> {name: completions}`` running the RTL on ``backend``."""

    def run(ctx) -> dict:
        images = ctx.images
        cfg = SchedulerConfig.for_images(images, num_slots=ctx.slots, predictor=ctx.predictor)
        npu = TraceNPU(ctx.requests)
        vcd = ctx.out_dir / f"{HW_NAME}.vcd" if ctx.vcd else None
        with tqdm(total=len(ctx.requests), desc=f"{HW_NAME} ({backend}) {ctx.label}",
                  unit="req", disable=None, leave=False) as bar:
            res = run_system(ctx.requests, images, npu, backend=backend, config=cfg, vcd=vcd,
                             progress=bar)
        agree = bitexact_agreement(res, ctx.requests, images, npu, config=cfg)
        arrival = {r.tag: r.arrival for r in ctx.requests}
        waits = np.array([c - arrival[t] for t, c in res.accepts], dtype=float)
        info = {**res.summary(), "slots": cfg.num_slots, "lanes": ctx.lanes,
                "predictor": cfg.predictor, "policy": cfg.policy,
                "bitexact": agree, "vcd": str(vcd) if vcd else None,
                "backpressure": {"requests_waiting": int((waits > 0).sum()),
                                 "mean_wait_cycles": float(waits.mean()),
                                 "max_wait_cycles": float(waits.max())}}
        (ctx.out_dir / "hw.json").write_text(json.dumps(info, indent=2))
        window, what = None, "first 30 requests"
        if ctx.window is not None:
            ms = ctx.workload.clock_hz / 1e3
            window = (round(ctx.window[0] * ms), round(ctx.window[1] * ms))
            what = f"{ctx.window[0]:g}-{ctx.window[1]:g} ms"
        plot_timeline(res, ctx.requests, ctx.out_dir / "timeline.png", window=window,
                      clock_hz=ctx.workload.clock_hz,
                      title=f"{ctx.workload.name} {HW_NAME} ({backend}): {what}")
        print(f"{HW_NAME} ({backend}) {ctx.label}: {res.sim_cycles} simulated + "
              f"{res.skipped_cycles} fast-forwarded cycles in {res.wall_seconds:.1f} s; "
              f"scheduler overhead {100 * info['scheduler_overhead']:.4f}% of NPU cycles; "
              f"bit-exact model agreement: {agree['decisions_equal']}/{agree['decisions']} "
              f"decisions", file=sys.stderr)
        if not agree["agree"]:
            raise HwMismatch(f"{HW_NAME} ({backend}) {ctx.label}: RTL and bit-exact model "
                             f"differ (first decision #{agree['first_difference']}, accepts "
                             f"equal {agree['accepts_equal']}, completions equal "
                             f"{agree['completions_equal']}); see {ctx.out_dir / 'hw.json'}")
        return {HW_NAME: completions_for_metrics(res, ctx.requests)}

    return run

"""System-simulation backends, registered with :mod:`sim.cli` as ``--backend pysim`` and
``--backend verilator``.

Each runs the Dysta scheduler RTL (:func:`sim.system.run_system`, trace-driven NPU) on the
point's request stream and returns its completions as ``dysta-hw``; besides it writes
``hw.json`` (cycles, fast-forward, scheduler overhead, back-pressure waits, agreement with
the bit-exact model on the same stimulus), ``timeline.png`` and, with ``--vcd``,
``dysta-hw.vcd``.
"""

from __future__ import annotations

import json
import sys
import warnings

__all__ = ["HW_NAME", "hw_backend"]

HW_NAME = "dysta-hw"


def hw_backend(backend: str):
    """A :func:`sim.cli.register_backend` callable running the RTL on ``backend``."""

    def run(ctx) -> dict:
        import numpy as np
        from tqdm import tqdm

        from sw_scheduler.formats import FixedPointWarning

        from ..npu import TraceNPU
        from ..system import bitexact_agreement, completions_for_metrics, run_system
        from ..timeline import plot_timeline

        with warnings.catch_warnings():   # the CLI has reported saturations already
            warnings.simplefilter("ignore", FixedPointWarning)
            images = ctx.tables.to_lut_images()
        npu = TraceNPU(ctx.requests)
        vcd = ctx.out_dir / f"{HW_NAME}.vcd" if ctx.vcd else None
        with tqdm(total=len(ctx.requests), desc=f"{HW_NAME} ({backend})", unit="req",
                  disable=None, leave=False) as bar:
            res = run_system(ctx.requests, images, npu, backend=backend, vcd=vcd,
                             progress=bar)
        agree = bitexact_agreement(res, ctx.requests, images, npu)
        arrival = {r.tag: r.arrival for r in ctx.requests}
        waits = np.array([c - arrival[t] for t, c in res.accepts], dtype=float)
        info = {**res.summary(), "bitexact": agree, "vcd": str(vcd) if vcd else None,
                "backpressure": {"requests_waiting": int((waits > 0).sum()),
                                 "mean_wait_cycles": float(waits.mean()),
                                 "max_wait_cycles": float(waits.max())}}
        (ctx.out_dir / "hw.json").write_text(json.dumps(info, indent=2))
        plot_timeline(res, ctx.requests, ctx.out_dir / "timeline.png",
                      clock_hz=ctx.workload.clock_hz,
                      title=f"{ctx.workload.name} {HW_NAME} ({backend}): first 30 requests")
        differs = ("" if agree["agree"]
                   else f" (DIFFERS, first at #{agree['first_difference']})")
        print(f"{HW_NAME} ({backend}): {res.sim_cycles} simulated + {res.skipped_cycles} "
              f"fast-forwarded cycles in {res.wall_seconds:.1f} s; scheduler overhead "
              f"{100 * info['scheduler_overhead']:.4f}% of NPU cycles; bit-exact model "
              f"agreement: {agree['decisions_equal']}/{agree['decisions']} decisions"
              f"{differs}",
              file=sys.stderr)
        return {HW_NAME: completions_for_metrics(res, ctx.requests)}

    return run


def _register():
    from ..cli import register_backend

    for name in ("pysim", "verilator"):
        register_backend(name, hw_backend(name))


_register()

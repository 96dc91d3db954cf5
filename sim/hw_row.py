"""The hardware rows of a run: the scheduler RTL, once per selected hardware policy.

:func:`hw_backend` returns the callable the CLI runs for ``--backend pysim|verilator``:
for every selected scheduler that has a hardware twin (:data:`HW_ROWS`: the policies of
:mod:`sw_scheduler.hw_policies`; ``dysta-last`` and ``dysta-busy`` = Dysta with the
last-ratio and the busy-cycle predictor), the scheduler RTL built for that policy
(:func:`sim.system.run_system`, trace-driven NPU) on the point's request stream, returned as ``<name>-hw``. It writes
``hw.json`` (per row: configuration, cycles, fast-forward, scheduler overhead,
back-pressure waits, table-full time, agreement with the bit-exact model on the same
stimulus), ``timeline-<name>-hw.png`` and, with ``--vcd``, ``<name>-hw.vcd``. Per-row
table columns go to ``ctx.notes``. A disagreement with the bit-exact model raises
:class:`HwMismatch`; a request the hardware cannot encode raises :class:`HwInputError`
(:func:`check_hw_inputs`, called before any model runs).
"""

from __future__ import annotations

import json
import sys

import numpy as np
from tqdm import tqdm

from rtl.scheduler.layouts import SchedulerConfig
from sw_scheduler.hw_policies import HW_POLICIES

from .driver import hw_requests
from .npu import TraceNPU
from .system import bitexact_agreement, completions_for_metrics, run_system
from .timeline import plot_timeline

__all__ = ["HW_NAME", "HW_ROWS", "HwInputError", "HwMismatch", "check_hw_inputs", "hw_backend",
           "hw_config", "hw_images", "hw_names"]

# scheduler name -> (hardware policy, predictor)
HW_NAME = "dysta-hw"     # the Dysta hardware row (the sweep's hardware point)
HW_ROWS = {**{p: (p, "mean") for p in HW_POLICIES}, "dysta-last": ("dysta", "last"),
           "dysta-busy": ("dysta", "busy")}


class HwMismatch(RuntimeError):
    """The RTL and the bit-exact model disagreed on the same stimulus."""


class HwInputError(ValueError):
    """A request does not fit the hardware's fields (names request, field and value)."""


def hw_names(scheds) -> list[str]:
    """The selected schedulers that run on the hardware too, in selection order."""
    return [s for s in scheds if s in HW_ROWS]


def hw_config(name: str, images, slots: int) -> SchedulerConfig:
    """The scheduler build of hardware row ``name``."""
    policy, predictor = HW_ROWS[name]
    return SchedulerConfig.for_images(images, num_slots=slots, predictor=predictor,
                                      policy=policy)


def hw_images(cfg: SchedulerConfig, tables, images):
    """The LUT images of build ``cfg``: the run's ``images``, or (busy-cycle predictor) the
    same tables quantised with INV_BUSY in the layer words."""
    if images.inv_field == cfg.inv_field:
        return images
    return tables.to_lut_images(images.layout, inv_field=cfg.inv_field)


def check_hw_inputs(requests, images, slots: int) -> None:
    """Raise :class:`HwInputError` if a request does not fit the hardware's fields (the
    request port is the same for every policy)."""
    try:
        hw_requests(requests, SchedulerConfig.for_images(images, num_slots=slots))
    except ValueError as e:
        raise HwInputError(str(e)) from None


def hw_backend(backend: str):
    """The callable ``fn(ctx) -> {name: completions}`` running the RTL on ``backend``."""

    def run(ctx) -> dict:
        out, runs = {}, {}
        npu = TraceNPU(ctx.requests)
        arrival = {r.tag: r.arrival for r in ctx.requests}
        hw_json = ctx.out_dir / "hw.json"
        names = hw_names(ctx.scheds)
        if not names:
            print(f"note: none of the selected schedulers has a hardware policy "
                  f"(hardware: {', '.join(HW_ROWS)})", file=sys.stderr)
        for name in names:
            row = f"{name}-hw"
            cfg = hw_config(name, ctx.images, ctx.slots)
            images = hw_images(cfg, ctx.tables, ctx.images)
            vcd = ctx.out_dir / f"{row}.vcd" if ctx.vcd else None
            with tqdm(total=len(ctx.requests), desc=f"{row} ({backend}) {ctx.label}",
                      unit="req", disable=None, leave=False) as bar:
                res = run_system(ctx.requests, images, npu, backend=backend, config=cfg,
                                 vcd=vcd, progress=bar)
            agree = bitexact_agreement(res, ctx.requests, images, npu, config=cfg)
            waits = np.array([c - arrival[t] for t, c in res.accepts], dtype=float)
            clock = ctx.workload.clock_hz
            info = {**res.summary(), "slots": cfg.num_slots, "lanes": ctx.lanes,
                    "predictor": cfg.predictor, "policy": cfg.policy,
                    "bitexact": agree, "vcd": str(vcd) if vcd else None,
                    "backpressure": {"requests_waiting": int((waits > 0).sum()),
                                     "mean_wait_cycles": float(waits.mean()),
                                     "max_wait_cycles": float(waits.max()),
                                     "mean_wait_ms": float(waits.mean() / clock * 1e3)}}
            runs[row] = info
            ctx.notes[row] = {"slots": cfg.num_slots,
                              "mean_wait_ms": info["backpressure"]["mean_wait_ms"],
                              "table_full_fraction": info["table_full_fraction"]}
            hw_json.write_text(json.dumps({"slots": ctx.slots, "lanes": ctx.lanes,
                                           "runs": runs}, indent=2))
            window, what = None, "first 30 requests"
            if ctx.window is not None:
                ms = clock / 1e3
                window = (round(ctx.window[0] * ms), round(ctx.window[1] * ms))
                what = f"{ctx.window[0]:g}-{ctx.window[1]:g} ms"
            plot_timeline(res, ctx.requests, ctx.out_dir / f"timeline-{row}.png",
                          window=window, clock_hz=clock,
                          title=f"{ctx.workload.name} {row} ({backend}): {what}")
            print(f"{row} ({backend}) {ctx.label}: {res.sim_cycles} simulated + "
                  f"{res.skipped_cycles} fast-forwarded cycles in {res.wall_seconds:.1f} s; "
                  f"scheduler overhead {100 * info['scheduler_overhead']:.4f}% of NPU "
                  f"cycles; table full {100 * info['table_full_fraction']:.2f}% of the time; "
                  f"bit-exact model agreement: {agree['decisions_equal']}/"
                  f"{agree['decisions']} decisions", file=sys.stderr)
            if not agree["agree"]:
                raise HwMismatch(f"{row} ({backend}) {ctx.label}: RTL and bit-exact model "
                                 f"differ (first decision #{agree['first_difference']}, "
                                 f"accepts equal {agree['accepts_equal']}, completions "
                                 f"equal {agree['completions_equal']}); see {hw_json}")
            out[row] = completions_for_metrics(res, ctx.requests)
        return out

    return run

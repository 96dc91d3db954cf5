"""Cycle-accurate system simulation: host driver + scheduler RTL + NPU.

:func:`run_system` runs the exported scheduler netlist
(:class:`rtl.scheduler.top.DystaScheduler`) against a :class:`sim.driver.RequestDriver`
and an NPU model (:mod:`sim.npu`) on a backend (``"pysim"``: Amaranth's simulator;
``"verilator"``: the exported Verilog compiled with the C++ harness
``sim/backends/harness.cpp``). Every backend follows the per-cycle contract of
:mod:`sim.contract` (including fast-forward through the scheduler's time-base port).

Every run is checked for conservation (:func:`sw_scheduler.records.check_conservation`)
and can be compared with :class:`sw_scheduler.bitexact.BitExactScheduler` on the same
stimulus (:func:`bitexact_agreement`).
"""

from __future__ import annotations

import time

from rtl.scheduler.layouts import SchedulerConfig
from sw_scheduler.bitexact import BitExactScheduler
from sw_scheduler.formats import DEFAULT_SLOTS
from sw_scheduler.records import Completion, check_conservation

from .backends.pysim import run_pysim
from .backends.verilator import run_verilator
from .contract import SystemResult
from .driver import hw_requests

__all__ = ["BACKENDS", "SystemResult", "bitexact_agreement", "check_system",
           "completions_for_metrics", "run_system"]

BACKENDS = {"pysim": run_pysim, "verilator": run_verilator}


def check_system(res: SystemResult, requests) -> None:
    """Conservation of a hardware run: every request accepted once, completed once after."""
    check_conservation(requests, res.completions, accepts=res.accepts, where=res.backend)


def run_system(requests, images, npu, *, backend: str = "pysim", config=None,
               num_slots: int = DEFAULT_SLOTS, predictor: str = "mean", fast_forward: bool = True, vcd=None, progress=None,
               max_cycles: int | None = None, build_dir=None) -> SystemResult:
    """Run ``requests`` (:class:`sw_scheduler.records.Request`) through the scheduler RTL.

    Parameters
    ----------
    images : LutImages
        Scheduler LUT contents (static level of the same workload).
    npu : callable
        ``npu(tag, layer) -> (latency, nnz)`` (:mod:`sim.npu`); the ``"verilator"``
        backend needs a :class:`~sim.npu.TraceNPU` (its plan is handed to C++).
    config : SchedulerConfig or None
        The scheduler build; default :meth:`SchedulerConfig.for_images` with ``num_slots``
        and ``predictor``.
    progress : tqdm or None
        Updated by one per completed request.
    max_cycles : int or None
        Simulated-cycle budget (TimeoutError beyond); default 200 per layer + 10**5 (plus
        the last arrival and all layer cycles without fast-forward).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {tuple(BACKENDS)}, got {backend!r}")
    cfg = config or SchedulerConfig.for_images(images, num_slots=num_slots, predictor=predictor)
    hw = hw_requests(requests, cfg)
    if max_cycles is None:
        max_cycles = 10**5 + 200 * sum(len(r.cycles) for r in requests)
        if not fast_forward:
            max_cycles += max(r.arrival for r in requests) + sum(sum(r.cycles) for r in requests)
    t0 = time.perf_counter()
    kw = {"build_dir": build_dir} if backend == "verilator" else {}
    res = BACKENDS[backend](cfg, images, hw, npu, fast_forward=fast_forward, vcd=vcd,
                            progress=progress, max_cycles=max_cycles, **kw)
    res.wall_seconds = time.perf_counter() - t0
    check_system(res, hw)
    return res


def completions_for_metrics(res: SystemResult, requests) -> list[Completion]:
    """:class:`~sw_scheduler.records.Completion` list (finish = absolute cycle of the last
    layer-done, from the RTL's payload) for :func:`sim.metrics.compute_metrics`."""
    by_tag = {r.tag: r for r in requests}
    start = {}
    for d in res.decisions:
        if d.layer == 0:
            start.setdefault(d.tag, d.cycle)
    return [Completion.of(by_tag[c.tag], res.finish_cycle(c.cycle, c.finish),
                          start.get(c.tag, -1)) for c in res.completions]


def bitexact_agreement(res: SystemResult, requests, images, npu, *, config=None,
                       num_slots: int = DEFAULT_SLOTS, predictor: str = "mean") -> dict:
    """Run :class:`BitExactScheduler` on the same stimulus and compare with ``res``.

    Returns counts of matching decisions ``(cycle, slot, tag, layer)`` (in order),
    whether accepts and completions are identical, and the index of the first differing
    decision (or None). ``agree`` requires all three.
    """
    cfg = config or SchedulerConfig.for_images(images, num_slots=num_slots, predictor=predictor)
    bx = BitExactScheduler(cfg, images).run(hw_requests(requests, cfg),
                                            lambda k, d: npu(d.tag, d.layer))

    def key(d):
        return d.cycle, d.slot, d.tag, d.layer

    mine = [key(d) for d in res.decisions]
    theirs = [key(d) for d in bx.decisions]
    first = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), None)
    if first is None and len(mine) != len(theirs):
        first = min(len(mine), len(theirs))
    same = sum(a == b for a, b in zip(mine, theirs))
    accepts_equal = res.accepts == list(bx.accepts)
    completions_equal = ([(c.cycle, c.tag, c.finish) for c in res.completions]
                         == [(c.cycle, c.tag, c.finish) for c in bx.completions])
    return {
        "decisions": len(mine), "bitexact_decisions": len(theirs), "decisions_equal": same,
        "first_difference": first, "accepts_equal": accepts_equal,
        "completions_equal": completions_equal,
        "agree": first is None and accepts_equal and completions_equal,
    }

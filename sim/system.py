"""Cycle-accurate system simulation: host driver + Dysta scheduler RTL + NPU.

:func:`run_system` connects the scheduler RTL (:class:`SimScheduler`, i.e.
:class:`rtl.scheduler.top.DystaScheduler` plus a simulation-only counter-load port) to a
:class:`sim.driver.RequestDriver` and an NPU model (:mod:`sim.npu`) and runs it on a
backend (``"pysim"``: Amaranth's simulator; ``"verilator"``: the exported Verilog
compiled with the C++ harness ``sim/backends/harness.cpp``). Every backend follows the
same per-cycle harness contract (``docs/simulation.md``):

* cycle ``k``: the driver presents its request (:class:`~sim.driver.RequestDriver`),
  ``npu_cmd.ready`` = NPU idle, ``npu_resp.valid`` = a layer is in flight and
  ``k >= c + latency`` (command accepted in ``c``), ``completions.ready`` = 1;
* handshakes of cycle ``k`` are logged with cycle ``k``; the NPU identifies the request
  of a command by mirroring the task table (append on accept, last entry moves into the
  retired slot on completion; checked against every completion's tag);
* **fast-forward**: when a layer is in flight or the task table is empty, no handshake
  happened in cycles ``k - FF_SETTLE .. k`` (:data:`FF_SETTLE`) and the next event
  (response due, or the next request's presentation if the table has room) is ``e > k+1``,
  the harness asserts ``ff_load`` with ``ff_value = counter(e)`` for cycle ``k``: after
  the edge the counter reads as in cycle ``e`` and the harness continues at ``e``. In RUN
  (and IDLE) the scheduler's state other than the counter does not change, so this equals
  plain
  simulation (tested: same decisions, accepts and completions); likewise in IDLE.

The result is checked for conservation (every request accepted once and completed once)
and can be compared with :class:`sw_scheduler.bitexact.BitExactScheduler` on the same
stimulus (:func:`bitexact_agreement`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from amaranth.hdl import Signal

from rtl.scheduler.layouts import SCAN_OVERHEAD, SchedulerConfig
from rtl.scheduler.top import DystaScheduler
from sw_scheduler.formats import TIME_WIDTH
from sw_scheduler.reference.core import Completion

from .driver import hw_requests

__all__ = ["BACKEND_NAMES", "FF_SETTLE", "ConservationError", "SimScheduler", "SystemResult",
           "bitexact_agreement", "completions_for_metrics", "run_system", "verilog_ports"]

FF_SETTLE = SCAN_OVERHEAD + 3   # quiet cycles (no handshake) before the harness may jump
BACKEND_NAMES = ("pysim", "verilator")


class ConservationError(RuntimeError):
    """A request was not accepted once and completed once."""


class SimScheduler(DystaScheduler):
    """:class:`DystaScheduler` with a simulation-only counter load for fast-forward.

    Members (besides the scheduler's)
    ---------------------------------
    ff_load : Signal(1), input
        When 1 in a cycle, the counter ``now`` reads ``ff_value`` after that cycle's edge
        (instead of ``now + 1``). 0 = exactly :class:`DystaScheduler`.
    ff_value : Signal(time_width), input
    """

    def __init__(self, config: SchedulerConfig, images=None):
        super().__init__(config, images)
        self.ff_load = Signal(name="ff_load")
        self.ff_value = Signal(config.time_width, name="ff_value")

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.ff_load):
            m.d.sync += self.now.eq(self.ff_value)    # later statement: overrides now + 1
        return m


def verilog_ports(dut: SimScheduler) -> dict:
    """``ports=`` for :func:`amaranth.back.verilog.convert`: the signature ports, renamed
    ``requests_valid``, ... (C++ mangles ``__``), plus ``ff_load``/``ff_value``; the
    directions are inferred (driven = output)."""
    from amaranth.hdl import ValueCastable

    ports = {}
    for path, _, value in dut.signature.flatten(dut):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        ports["_".join(map(str, path))] = (value, None)
    ports["ff_load"] = (dut.ff_load, None)
    ports["ff_value"] = (dut.ff_value, None)
    return ports


@dataclass
class SystemResult:
    """What one system run logged (absolute cycles, 0 = first cycle after reset).

    Attributes
    ----------
    accepts : list of ``(tag, cycle)``
    decisions : list of ``(cycle, slot, tag, layer, n_active, latency)``
        NPU command handshakes.
    completions : list of ``(cycle, tag, finish)``
        ``finish`` = the completion payload (counter value of the last layer-done).
    end_cycle : int
        Cycle after the last completion handshake.
    sim_cycles : int
        Cycles actually simulated (clock edges); the rest were fast-forwarded.
    decision_cycles : int
        Cycles with the NPU idle while requests were in the task table (scheduler overhead).
    npu_busy_cycles : int
        Sum of layer latencies.
    """

    backend: str
    accepts: list = field(default_factory=list)
    decisions: list = field(default_factory=list)
    completions: list = field(default_factory=list)
    end_cycle: int = 0
    sim_cycles: int = 0
    decision_cycles: int = 0
    npu_busy_cycles: int = 0
    wall_seconds: float = 0.0
    build_seconds: float = 0.0      # compiling the backend (0 when cached / pysim)
    counter_init: int = 0
    time_mod: int = 1 << TIME_WIDTH

    def finish_cycle(self, cycle: int, finish: int) -> int:
        """Absolute cycle of a completion's ``finish`` counter value (seen in ``cycle``)."""
        return cycle - ((self.counter_init + cycle - finish) % self.time_mod)

    @property
    def skipped_cycles(self) -> int:
        return self.end_cycle - self.sim_cycles

    def summary(self) -> dict:
        return {
            "backend": self.backend, "requests": len(self.accepts),
            "decisions": len(self.decisions), "end_cycle": self.end_cycle,
            "sim_cycles": self.sim_cycles, "skipped_cycles": self.skipped_cycles,
            "decision_cycles": self.decision_cycles, "npu_busy_cycles": self.npu_busy_cycles,
            "scheduler_overhead": (self.decision_cycles / self.npu_busy_cycles
                                   if self.npu_busy_cycles else 0.0),
            "wall_seconds": self.wall_seconds, "build_seconds": self.build_seconds,
            "sim_cycles_per_second": (self.sim_cycles / (self.wall_seconds - self.build_seconds)
                                      if self.wall_seconds > self.build_seconds else 0.0),
        }


def check_conservation(res: SystemResult, hwreqs) -> None:
    """Raise :class:`ConservationError` unless every request was accepted once and
    completed once, after its acceptance."""
    want = sorted(r.tag for r in hwreqs)
    acc = sorted(t for t, _ in res.accepts)
    done = sorted(t for _, t, _ in res.completions)
    if acc != want or done != want:
        missing = sorted(set(want) - set(done))[:10]
        dup = sorted({t for t in done if done.count(t) > 1})[:10] if len(done) < 5000 else []
        raise ConservationError(
            f"{res.backend}: {len(want)} requests, {len(acc)} accepted, {len(done)} completed "
            f"({len(set(done))} distinct); missing e.g. {missing}, duplicated e.g. {dup}")
    acc_at = dict(res.accepts)
    for c, t, _ in res.completions:
        if c <= acc_at[t]:
            raise ConservationError(f"{res.backend}: request {t} completed in cycle {c}, "
                                    f"not after its acceptance in cycle {acc_at[t]}")


def run_system(requests, images, npu, *, backend: str = "pysim", num_slots: int = 16,
               fast_forward: bool = True, predictor: str = "mean", vcd=None,
               progress=None, max_cycles: int | None = None,
               build_dir=None) -> SystemResult:
    """Run ``requests`` (:class:`sim.workload.Request`) through the scheduler RTL.

    Parameters
    ----------
    images : LutImages
        Scheduler LUT contents (static level of the same workload).
    npu : callable
        ``npu(tag, layer) -> (latency, nnz)`` (:mod:`sim.npu`); the ``"verilator"``
        backend needs a :class:`~sim.npu.TraceNPU` (its plan is handed to C++).
    progress : tqdm or None
        Updated by one per completed request.
    max_cycles : int or None
        Simulated-cycle budget (TimeoutError beyond); default 200 per layer + 10**5 (plus
        the last arrival and all layer cycles without fast-forward).
    """
    if backend not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {backend!r}")
    cfg = SchedulerConfig.for_images(images, num_slots=num_slots, predictor=predictor)
    hw = hw_requests(requests, cfg)
    if max_cycles is None:
        max_cycles = 10**5 + 200 * sum(len(r.cycles) for r in requests)
        if not fast_forward:
            max_cycles += max(r.arrival for r in requests) + sum(sum(r.cycles) for r in requests)
    t0 = time.perf_counter()
    if backend == "pysim":
        from .backends.pysim import run_pysim
        res = run_pysim(cfg, images, hw, npu, fast_forward=fast_forward, vcd=vcd,
                        progress=progress, max_cycles=max_cycles)
    else:
        from .backends.verilator import run_verilator
        res = run_verilator(cfg, images, hw, npu, fast_forward=fast_forward, vcd=vcd,
                            progress=progress, max_cycles=max_cycles, build_dir=build_dir)
    res.wall_seconds = time.perf_counter() - t0
    check_conservation(res, hw)
    return res


def completions_for_metrics(res: SystemResult, requests) -> list:
    """:class:`sw_scheduler.reference.core.Completion` list (finish = absolute cycle of the
    last layer-done, from the RTL's payload) for :func:`sim.metrics.compute_metrics`."""
    by_tag = {r.tag: r for r in requests}
    out = []
    for cyc, tag, fin in res.completions:
        q = by_tag[tag]
        out.append(Completion(q.tag, q.model, q.pattern, q.arrival, q.deadline,
                              res.finish_cycle(cyc, fin), q.iso, q.priority))
    return out


def bitexact_agreement(res: SystemResult, requests, images, npu, *, num_slots: int = 16,
                       predictor: str = "mean") -> dict:
    """Run :class:`BitExactScheduler` on the same stimulus and compare with ``res``.

    Returns counts of matching decisions ``(cycle, slot, tag, layer)`` (in order),
    accepts and completions, and the index of the first differing decision (or None).
    """
    from sw_scheduler.bitexact import BitExactScheduler

    cfg = SchedulerConfig.for_images(images, num_slots=num_slots, predictor=predictor)
    bx = BitExactScheduler(cfg, images).run(hw_requests(requests, cfg),
                                            lambda k, d: npu(d.tag, d.layer))
    mine = [d[:4] for d in res.decisions]
    theirs = [(d.cycle, d.slot, d.tag, d.layer) for d in bx.decisions]
    first = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), None)
    if first is None and len(mine) != len(theirs):
        first = min(len(mine), len(theirs))
    same = sum(a == b for a, b in zip(mine, theirs))
    return {
        "decisions": len(mine), "bitexact_decisions": len(theirs), "decisions_equal": same,
        "first_difference": first,
        "accepts_equal": res.accepts == list(bx.accepts),
        "completions_equal": [(c, t, f) for c, t, f in res.completions]
        == [(c.cycle, c.tag, c.finish) for c in bx.completions],
        "agree": first is None and res.accepts == list(bx.accepts),
    }

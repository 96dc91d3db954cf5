"""The per-cycle harness contract every system-simulation backend follows.

A backend (:mod:`sim.backends.pysim`, :mod:`sim.backends.verilator`) runs the exported
scheduler netlist (:class:`rtl.scheduler.top.DystaScheduler`, nothing added) against a
:class:`sim.driver.RequestDriver` and an NPU model (:mod:`sim.npu`):

* cycle ``k``: the driver presents its request, ``npu_cmd.ready`` = NPU idle,
  ``npu_resp.valid`` = a layer is in flight and ``k >= c + latency`` (command accepted in
  ``c``), ``completions.ready`` = 1;
* handshakes of cycle ``k`` are logged with cycle ``k`` in the bit-exact model's records
  (:class:`sw_scheduler.bitexact.Decision`, :class:`~sw_scheduler.bitexact.Retirement`);
  the NPU identifies the request of a command by mirroring the task table (append on
  accept, last entry moves into the retired slot on completion); a completion belongs to
  the request of the last command (one layer in flight), whose tag modulo
  ``2**TAG_WIDTH`` must equal the payload's (tags wrap: runs of any length);
* **fast-forward**: when a layer is in flight or the task table is empty, no handshake
  happened in cycles ``k - FF_SETTLE .. k`` and the next event (response due, or the next
  request's presentation if the table has room) is ``e > k + 1``, the harness writes the
  scheduler's time-base port (``time_w``) with ``counter(e)`` in cycle ``k``: after the edge
  the counter reads as in cycle ``e`` and the harness continues at ``e``. In RUN and IDLE
  nothing but the counter changes, so this equals plain simulation (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sw_scheduler.formats import TIME_WIDTH
from sw_scheduler.timing import MAX_SCAN_OVERHEAD

__all__ = ["FF_SETTLE", "SystemResult"]

FF_SETTLE = MAX_SCAN_OVERHEAD + 3   # quiet cycles (no handshake) before the harness may jump


@dataclass
class SystemResult:
    """What one system run logged (absolute cycles, 0 = first cycle after reset).

    Attributes
    ----------
    accepts : list of ``(tag, cycle)``
    decisions : list of :class:`sw_scheduler.bitexact.Decision`
        NPU command handshakes (``scan_start`` is not observable at the ports: -1).
    latencies : list of int
        The NPU latency of each decision.
    completions : list of :class:`sw_scheduler.bitexact.Retirement`
        ``finish`` = the completion payload (counter value of the last layer-done).
    end_cycle : int
        Cycle after the last completion handshake.
    sim_cycles : int
        Cycles actually simulated (clock edges); the rest were fast-forwarded.
    decision_cycles : int
        Cycles with the NPU idle while requests were in the task table (scheduler overhead).
    npu_busy_cycles : int
        Sum of layer latencies.
    full_cycles : int
        Cycles (simulated or fast-forwarded) with the task table full (``n_active`` =
        slots): the time the table back-pressured the host.
    """

    backend: str
    accepts: list = field(default_factory=list)
    decisions: list = field(default_factory=list)
    latencies: list = field(default_factory=list)
    completions: list = field(default_factory=list)
    end_cycle: int = 0
    sim_cycles: int = 0
    decision_cycles: int = 0
    npu_busy_cycles: int = 0
    full_cycles: int = 0
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
            "table_full_cycles": self.full_cycles,
            "table_full_fraction": self.full_cycles / self.end_cycle if self.end_cycle else 0.0,
            "scheduler_overhead": (self.decision_cycles / self.npu_busy_cycles
                                   if self.npu_busy_cycles else 0.0),
            "wall_seconds": self.wall_seconds, "build_seconds": self.build_seconds,
            "sim_cycles_per_second": (self.sim_cycles / (self.wall_seconds - self.build_seconds)
                                      if self.wall_seconds > self.build_seconds else 0.0),
        }

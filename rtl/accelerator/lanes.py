"""The ``P`` multiply-accumulate lanes, one output column each."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .layouts import ACC, ACT

__all__ = ["LaneArray"]


class LaneArray(wiring.Component):
    """``P`` int32 accumulators fed by one broadcast int8 activation per cycle.

    Parameters
    ----------
    lanes : int
        ``P``.

    Members
    -------
    mac : In(1)
        This cycle, lane ``j`` adds ``x * w[j]`` (the sum is visible on ``drain_acc``
        in the same cycle and in the accumulator from the next cycle).
    x : In(ACT)
        Broadcast activation.
    w : In(ArrayLayout(ACT, lanes))
        Weight word: one int8 per lane.
    clear : In(1)
        Zero every accumulator at the end of this cycle (``mac`` must be 0).
    drain_sel : In(range(lanes))
        Lane whose running sum ``drain_acc`` shows.
    drain_acc : Out(ACC)
        Accumulator ``drain_sel`` including this cycle's ``mac``.
    """

    def __init__(self, lanes: int):
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"LaneArray: lanes must be a positive int, got {lanes!r}")
        self._lanes = lanes
        super().__init__({
            "mac": In(1), "x": In(ACT), "w": In(data.ArrayLayout(ACT, lanes)),
            "clear": In(1), "drain_sel": In(range(lanes)), "drain_acc": Out(ACC),
        })

    def elaborate(self, platform):
        m = Module()
        acc_next = []
        for j in range(self._lanes):
            acc = Signal(ACC, name=f"acc{j}")
            nxt = (acc + Mux(self.mac, self.x * self.w[j], 0))[:ACC.width].as_signed()
            m.d.sync += acc.eq(Mux(self.clear, 0, nxt))
            acc_next.append(nxt)
        m.d.comb += self.drain_acc.eq(Array(acc_next)[self.drain_sel])
        return m

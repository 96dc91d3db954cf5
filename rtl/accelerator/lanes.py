"""The ``P`` multiply-accumulate lanes, one output column each (3-stage pipeline)."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .layouts import ACC, ACT

__all__ = ["LaneArray"]


class LaneArray(wiring.Component):
    """``P`` int32 accumulators fed by one broadcast int8 activation per cycle.

    Pipeline: operands register, product register, accumulator. A ``mac`` in cycle ``d``
    shows in ``drain_acc`` from cycle ``d + MAC_LATENCY`` (:mod:`rtl.accelerator.cycle_model`).

    Parameters
    ----------
    lanes : int
        ``P``.

    Members
    -------
    mac : In(1)
        This cycle's ``x``/``w`` are a broadcast: lane ``j`` adds ``x * w[j]``.
    x : In(ACT)
        Broadcast activation.
    w : In(ArrayLayout(ACT, lanes))
        Weight word: one int8 per lane.
    clear : In(1)
        Zero every accumulator at the end of this cycle (no ``mac`` may be in flight).
    drain_sel : In(range(lanes))
        Lane whose accumulator ``drain_acc`` shows.
    drain_acc : Out(ACC)
        Accumulator ``drain_sel`` (registered value).
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
        x_r = Signal(ACT)
        w_r = Signal(data.ArrayLayout(ACT, self._lanes))
        v_op, v_prod = Signal(), Signal()
        m.d.sync += [x_r.eq(self.x), w_r.eq(self.w), v_op.eq(self.mac), v_prod.eq(v_op)]
        accs = []
        for j in range(self._lanes):
            prod = Signal(signed(2 * ACT.width), name=f"prod{j}")   # int8 * int8
            acc = Signal(ACC, name=f"acc{j}")
            m.d.sync += prod.eq(x_r * w_r[j])
            nxt = (acc + Mux(v_prod, prod, 0))[:ACC.width].as_signed()
            m.d.sync += acc.eq(Mux(self.clear, 0, nxt))
            accs.append(acc)
        m.d.comb += self.drain_acc.eq(Array(accs)[self.drain_sel])
        return m

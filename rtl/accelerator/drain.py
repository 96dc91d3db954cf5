"""Full-width drain: one row pass's ``P`` accumulators per cycle to an output entry."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .lanes import PASS_META
from .layouts import ACC, ACT, SHIFT_WIDTH, out_layout

__all__ = ["DRAIN_STAGES", "Drain", "requantise"]

DRAIN_STAGES = 3   # shift by 0/8/16/24; by 0..7; saturate, activation and zero test


def requantise(v, relu):
    """``act(sat_int8(v))`` of an already shifted accumulator ``v`` (signed): no wide
    comparator, only the sign and whether bits 7..msb all equal it."""
    top = v[ACT.width - 1:]
    sign = v[-1]
    hi = (1 << (ACT.width - 1)) - 1
    fits = top.all() | ~top.any()                   # -128 <= v <= 127
    sat = Mux(fits, v[:ACT.width], Mux(sign, hi + 1, hi))   # hi + 1 = 0x80 = -128
    return Mux(relu & sign, 0, sat)


class Drain(wiring.Component):
    """Requantise every lane of a captured pass at once (pipelined, one pass per cycle).

    A capture in cycle ``t`` (``cap_valid``) shows on ``o_entry`` with ``o_valid`` in cycle
    ``t + DRAIN_STAGES``: ``values[j] = act(sat_int8(acc[j] >> shift))``, ``nz`` their
    non-zero bits, ``col``/``last`` from the pass meta; ``o_end`` marks the layer's last pass.

    Members
    -------
    cap_valid, cap_acc, cap_meta : In
        As on :class:`rtl.accelerator.lanes.LaneArray`.
    shift : In(SHIFT_WIDTH)
    relu : In(1)
    o_valid, o_entry, o_end : Out
    """

    def __init__(self, lanes: int):
        self._lanes = lanes
        super().__init__({
            "cap_valid": In(1), "cap_acc": In(data.ArrayLayout(ACC, lanes)),
            "cap_meta": In(PASS_META), "shift": In(SHIFT_WIDTH), "relu": In(1),
            "o_valid": Out(1), "o_entry": Out(out_layout(lanes)), "o_end": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        P = self._lanes
        # the shift in two stages (each select bit drives every lane: fewer levels per stage)
        c_v, g_v = Signal(), Signal()
        c_meta, g_meta = Signal(PASS_META), Signal(PASS_META)
        c_sh = Signal(data.ArrayLayout(ACC, P))
        g_sh = Signal(data.ArrayLayout(ACC, P))
        coarse = self.shift & 0b11000
        fine = self.shift & 0b00111
        m.d.sync += [c_v.eq(self.cap_valid), c_meta.eq(self.cap_meta),
                     g_v.eq(c_v), g_meta.eq(c_meta)]
        m.d.sync += [c_sh[j].eq(self.cap_acc[j] >> coarse) for j in range(P)]
        m.d.sync += [g_sh[j].eq(c_sh[j] >> fine) for j in range(P)]
        ys = [requantise(g_sh[j], self.relu) for j in range(P)]
        m.d.sync += [self.o_valid.eq(g_v), self.o_end.eq(g_meta.end),
                     self.o_entry.col.eq(g_meta.col), self.o_entry.last.eq(g_meta.last),
                     self.o_entry.nz.eq(Cat(*[y.any() for y in ys]))]
        m.d.sync += [self.o_entry.values[j].eq(ys[j]) for j in range(P)]
        return m

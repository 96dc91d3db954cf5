"""Sparsity predictor: gamma update from one layer's measured output non-zeros (pipelined)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F
from sw_scheduler.timing import PRED_LATENCY

from .layouts import PREDICTORS

__all__ = ["PRED_LATENCY", "Predictor", "saturate", "saturate_shift"]


def saturate(value, maximum: int):
    """``min(value, maximum)`` for a non-negative ``value``."""
    return Mux(value > maximum, maximum, value)


def saturate_shift(value, shift: int, width: int):
    """``min(value >> shift, 2**width - 1)`` for an unsigned ``value``, by an OR of high bits."""
    over = value[shift + width:].any() if len(value) > shift + width else 0
    return Mux(over, (1 << width) - 1, value[shift:shift + width])


class Predictor(wiring.Component):
    """Pipelined predictor update (``sw_scheduler.bitexact.predict``).

    Every input must be held stable for ``PRED_LATENCY`` cycles; the outputs then equal
    ``predict(...)`` of those inputs (registers: product, sum, product; the last
    saturation and the skip select are combinational from them).

    Parameters
    ----------
    variant : str
        ``"mean"``: gamma = running mean of ratios; ``"last"``: gamma = last ratio.
    count_width : int
        Width of ``count``.

    Members
    -------
    nnz : In(NNZ)           measured output non-zeros of the layer
    inv_nnz : In(INV_NNZ)   LUT reciprocal of the layer's mean non-zeros (0 = no update)
    gamma, gamma_sum, count : In   state before the layer
    recip : In(RECIP)       ``RECIP[count + 1]``
    gamma_o, gamma_sum_o, count_o : Out   state after the layer, ``PRED_LATENCY`` cycles on
    """

    def __init__(self, *, variant: str, count_width: int):
        if variant not in PREDICTORS:
            raise ValueError(f"variant must be one of {PREDICTORS}, got {variant!r}")
        self._variant = variant
        super().__init__({
            "nnz": In(F.NNZ.shape), "inv_nnz": In(F.INV_NNZ.shape),
            "gamma": In(F.GAMMA.shape), "gamma_sum": In(F.GAMMA_SUM.shape),
            "count": In(count_width), "recip": In(F.RECIP.shape),
            "gamma_o": Out(F.GAMMA.shape), "gamma_sum_o": Out(F.GAMMA_SUM.shape),
            "count_o": Out(count_width),
        })

    @property
    def variant(self):
        return self._variant

    def elaborate(self, platform):
        m = Module()
        gw = F.GAMMA.shape.width
        # stage 1: measured / mean non-zeros, raw product
        prod = Signal(F.NNZ.shape.width + F.INV_NNZ.shape.width)
        recip_r = Signal(F.RECIP.shape)     # (a ROM output: registered before its multiply)
        m.d.sync += [prod.eq(self.nnz * self.inv_nnz), recip_r.eq(self.recip)]
        # stage 2: ratio, running sum
        ratio = saturate_shift(prod, F.INV_NNZ.frac - F.GAMMA.frac, gw)
        r_ratio = Signal(F.GAMMA.shape)
        r_sum = Signal(F.GAMMA_SUM.shape)
        m.d.sync += [r_ratio.eq(ratio),
                     r_sum.eq(saturate(self.gamma_sum + ratio, F.GAMMA_SUM.max_int))]
        # stage 3: sum / count, raw product
        prod2 = Signal(F.GAMMA_SUM.shape.width + F.RECIP.shape.width)
        m.d.sync += prod2.eq(r_sum * recip_r)
        skip = self.inv_nnz == 0
        if self._variant == "last":
            m.d.comb += [
                self.gamma_o.eq(Mux(skip, self.gamma, r_ratio)),
                self.gamma_sum_o.eq(self.gamma_sum),
                self.count_o.eq(self.count),
            ]
        else:
            r_sum2 = Signal(F.GAMMA_SUM.shape)
            m.d.sync += r_sum2.eq(r_sum)
            g = saturate_shift(prod2, F.RECIP.frac, gw)
            m.d.comb += [
                self.gamma_o.eq(Mux(skip, self.gamma, g)),
                self.gamma_sum_o.eq(Mux(skip, self.gamma_sum, r_sum2)),
                self.count_o.eq(Mux(skip, self.count, self.count + 1)),
            ]
        return m

"""Sparsity predictor: gamma update from one layer's measured output non-zeros."""

from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F

from .layouts import PREDICTORS

__all__ = ["Predictor"]


def saturate(value, maximum: int):
    """``min(value, maximum)`` for a non-negative ``value``."""
    return Mux(value > maximum, maximum, value)


class Predictor(wiring.Component):
    """Combinational predictor update (``sw_scheduler.bitexact.predict``).

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
    gamma_o, gamma_sum_o, count_o : Out   state after the layer (same cycle)
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
        ratio = saturate((self.nnz * self.inv_nnz) >> (F.INV_NNZ.frac - F.GAMMA.frac),
                         F.GAMMA.max_int)
        skip = self.inv_nnz == 0
        if self._variant == "last":
            m.d.comb += [
                self.gamma_o.eq(Mux(skip, self.gamma, ratio)),
                self.gamma_sum_o.eq(self.gamma_sum),
                self.count_o.eq(self.count),
            ]
        else:
            s = saturate(self.gamma_sum + ratio, F.GAMMA_SUM.max_int)
            g = saturate((s * self.recip) >> F.RECIP.frac, F.GAMMA.max_int)
            m.d.comb += [
                self.gamma_o.eq(Mux(skip, self.gamma, g)),
                self.gamma_sum_o.eq(Mux(skip, self.gamma_sum, s)),
                self.count_o.eq(Mux(skip, self.count, self.count + 1)),
            ]
        return m

"""Sparsity predictor: gamma update from one layer's measured output non-zeros or busy
cycles (pipelined)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F
from sw_scheduler.timing import PRED_LATENCY

from .arith import delay, mul, reg, saturate, saturate_shift
from .layouts import PREDICTORS

__all__ = ["PRED_LATENCY", "Predictor", "saturate", "saturate_shift"]


class Predictor(wiring.Component):
    """Pipelined predictor update (``sw_scheduler.bitexact.predict``).

    ``nnz`` and ``inv_nnz`` must be held stable from a cycle ``s`` on, ``gamma``,
    ``gamma_sum`` and ``count`` from ``s + 1`` (they are read from the fourth stage on) and
    ``recip`` from ``s + 2``; the outputs are registers equal to ``predict(...)`` of those
    inputs from cycle ``s + PRED_LATENCY`` on. Stages: ``nnz * INV_NNZ`` (partial products, two adder levels),
    ratio and running sum, ``sum * RECIP`` (partial products, one adder level), gamma.
    ``busy``: running sum of cycles, ``sum * INV_BUSY`` (partial products, two adder
    levels), gamma, output.

    Parameters
    ----------
    variant : str
        ``"mean"``: gamma = running mean of ratios; ``"last"``: gamma = last ratio;
        ``"busy"``: gamma = busy cycles / mean busy cycles of the executed layers.
    count_width : int
        Width of ``count``.

    Members
    -------
    nnz : In(NNZ)           measured output non-zeros of the layer (busy: its cycles)
    inv_nnz : In(INV_NNZ)   LUT reciprocal of the layer's mean non-zeros (0 = no update;
                            busy: INV_BUSY of the prefix of mean cycles)
    gamma, gamma_sum, count : In   state before the layer (busy: gamma_sum is BUSY_SUM)
    recip : In(RECIP)       ``RECIP[count + 1]``
    gamma_o, gamma_sum_o, count_o : Out   state after the layer, ``PRED_LATENCY`` cycles on
    """

    def __init__(self, *, variant: str, count_width: int):
        if variant not in PREDICTORS:
            raise ValueError(f"variant must be one of {PREDICTORS}, got {variant!r}")
        self._variant = variant
        sum_shape = F.gamma_sum_format(variant).shape
        super().__init__({
            "nnz": In(F.NNZ.shape), "inv_nnz": In(F.INV_NNZ.shape),
            "gamma": In(F.GAMMA.shape), "gamma_sum": In(sum_shape),
            "count": In(count_width), "recip": In(F.RECIP.shape),
            "gamma_o": Out(F.GAMMA.shape), "gamma_sum_o": Out(sum_shape),
            "count_o": Out(count_width),
        })

    @property
    def variant(self):
        return self._variant

    def elaborate(self, platform):
        if self._variant == "busy":
            return self._elaborate_busy()
        m = Module()
        gw = F.GAMMA.shape.width
        # stages 1-3: measured / mean non-zeros, product (available in stage 4)
        prod = mul(m, self.nnz, self.inv_nnz, name="ratio", latency=3)
        recip = delay(m, self.recip, 2, "recip")      # a ROM output: registered, stable
        # stage 4: ratio, running sum (available in 5); the sums with the unsaturated and
        # the saturated ratio are formed side by side, the ratio's saturation selects
        sh = F.INV_NNZ.frac - F.GAMMA.frac
        over = prod[sh + gw:].any()
        ratio = reg(m, saturate_shift(prod, sh, gw), "ratio", F.GAMMA.shape)
        smax = F.GAMMA_SUM.max_int
        rsum = reg(m, Mux(over, saturate(self.gamma_sum + ((1 << gw) - 1), smax),
                          saturate(self.gamma_sum + prod[sh:sh + gw], smax)), "rsum",
                   F.GAMMA_SUM.shape)
        # stages 5-6: sum / count (available in 7); stage 7: outputs (registered)
        prod2 = mul(m, rsum, recip, name="mean", latency=2)
        skip = self.inv_nnz == 0
        if self._variant == "last":
            m.d.sync += [
                self.gamma_o.eq(Mux(skip, self.gamma, delay(m, ratio, 2, "last"))),
                self.gamma_sum_o.eq(self.gamma_sum),
                self.count_o.eq(self.count),
            ]
        else:
            m.d.sync += [
                self.gamma_o.eq(Mux(skip, self.gamma, saturate_shift(prod2, F.RECIP.frac, gw))),
                self.gamma_sum_o.eq(Mux(skip, self.gamma_sum, delay(m, rsum, 2, "sum"))),
                self.count_o.eq(Mux(skip, self.count, self.count + 1)),
            ]
        return m

    def _elaborate_busy(self):
        m = Module()
        gw = F.GAMMA.shape.width
        # stage 2: running sum of cycles (gamma_sum is valid from s + 1), available in 3
        rsum = reg(m, saturate(self.gamma_sum + self.nnz, F.BUSY_SUM.max_int), "busy_sum",
                   F.BUSY_SUM.shape)
        # stages 3-5: sum * INV_BUSY (available in 6); stage 6: gamma; 7: outputs
        prod = mul(m, rsum, self.inv_nnz, name="busy", latency=3)
        g = reg(m, saturate_shift(prod, F.INV_BUSY.frac - F.GAMMA.frac, gw), "busy_gamma",
                F.GAMMA.shape)
        assert PRED_LATENCY == 7
        m.d.sync += [
            self.gamma_o.eq(Mux(self.inv_nnz == 0, self.gamma, g)),
            self.gamma_sum_o.eq(rsum),
            self.count_o.eq(self.count),
        ]
        return m

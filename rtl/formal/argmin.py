"""Formal spec of :class:`rtl.scheduler.score.Argmin`: the best is the minimum, ties keep
the earlier entry.

The entries since the last ``clear`` are numbered ``0, 1, ...`` and the number is the
payload. A symbolic index ``k`` (``AnyConst``) stands for every entry at once: once entry
``k`` has been seen with score ``s_k``, the best score is ``<= s_k`` and, if equal, the best
index is ``<= k``; and when the best index is ``k``, the best score is ``s_k``. Together:
the best is the first entry with the minimum score.
"""

from __future__ import annotations

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cover, Module, Mux, Signal, unsigned

from ..scheduler.score import Argmin
from .props import Spec, any_seq, no_reset

__all__ = ["ArgminSpec"]


class ArgminSpec(Spec):
    """Parameters: ``score_width``, ``index_width`` (entries since a clear stay below
    ``2**index_width``), ``dut`` (a factory ``(score_width, payload_shape) -> Argmin``; a
    test passes a mutated one)."""

    def __init__(self, *, score_width: int = 4, index_width: int = 5, dut=None):
        self._sw, self._iw = score_width, index_width
        self._dut = dut or (lambda sw, ps: Argmin(score_width=sw, payload_shape=ps))
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        sw, iw = self._sw, self._iw
        m.submodules.dut = dut = self._dut(sw, unsigned(iw))
        no_reset(m)
        any_seq(m, dut.i.valid)
        any_seq(m, dut.i.payload.score)
        any_seq(m, dut.clear)
        valid, score, clear = dut.i.valid, dut.i.payload.score, dut.clear

        # index of this cycle's entry: 0 right after (or at) a clear
        count = Signal(iw)
        idx = Signal(iw)
        m.d.comb += [idx.eq(Mux(clear, 0, count)), dut.i.payload.payload.eq(idx)]
        m.d.comb += Assume(~(valid & (idx == (1 << iw) - 1)))     # no index wrap
        with m.If(valid):
            m.d.sync += count.eq(idx + 1)
        with m.Elif(clear):
            m.d.sync += count.eq(0)

        k = Signal(iw)
        m.d.comb += k.eq(AnyConst(iw))
        seen_k, score_k, any_entry = Signal(), Signal(sw), Signal()
        with m.If(valid & (idx == k)):
            m.d.sync += [seen_k.eq(1), score_k.eq(score)]
        with m.Elif(clear):
            m.d.sync += seen_k.eq(0)
        with m.If(valid):
            m.d.sync += any_entry.eq(1)
        with m.Elif(clear):
            m.d.sync += any_entry.eq(0)

        best, best_i = dut.best_score, dut.best_payload
        m.d.comb += Assert(dut.best_valid == any_entry, "best_valid iff an entry since clear")
        with m.If(seen_k):
            m.d.comb += Assert(dut.best_valid & (best <= score_k), "best <= every entry")
            with m.If(best == score_k):
                m.d.comb += Assert(best_i <= k, "a tie keeps the earlier entry")
        with m.If(dut.best_valid & (best_i == k)):
            m.d.comb += Assert(seen_k & (best == score_k), "the best is an entry, its score")

        # reachable: a tie kept the earlier entry; the best moved three times since a clear
        m.d.comb += Cover(seen_k & (best == score_k) & (best_i < k) & (k > 1))
        moves = Signal(2)
        with m.If(clear):
            m.d.sync += moves.eq(0)
        with m.Elif(valid & dut.best_valid & (score < best) & (moves != 3)):
            m.d.sync += moves.eq(moves + 1)
        m.d.comb += Cover(moves == 3)
        return m

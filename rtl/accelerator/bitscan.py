"""Find-first-set scan over a row bitmap: the zero-skipping address generator."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BitScan", "popcount"]


def popcount(v, width: int):
    """Number of set bits of the ``width``-bit value ``v``: a balanced adder tree expression.

    One expression without shared sub-terms, so it stays linear in ``width`` both in the
    netlist and in the simulator (which evaluates it in one pass).
    """
    def tree(lo, hi):
        if hi - lo == 1:
            return v[lo]
        mid = (lo + hi) // 2
        return tree(lo, mid) + tree(mid, hi)
    return tree(0, width)


class BitScan(wiring.Component):
    """Combinational scan of the lowest set bit of ``pending`` (one entry per cycle).

    Parameters
    ----------
    width : int
        Bitmap width (the engine's ``max_k``).

    Members
    -------
    pending : In(width)
        Effective entries not yet broadcast (row bitmap AND live weight rows).
    row : In(width)
        The row's full non-zero bitmap (its packed values are in ascending ``k``).
    index : Out(range(width + 1))
        ``k`` of the lowest set bit of ``pending`` (valid when ``pending != 0``).
    rank : Out(range(width + 1))
        Position of entry ``k`` among the row's packed non-zeros: set bits of ``row`` below ``k``.
    rest : Out(width)
        ``pending`` with that bit cleared.
    """

    def __init__(self, width: int):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"BitScan: width must be a positive int, got {width!r}")
        self._width = width
        super().__init__({
            "pending": In(width), "row": In(width),
            "index": Out(range(width + 1)), "rank": Out(range(width + 1)), "rest": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        w = self._width
        # expressions, not signals: each signal level costs the simulator one more pass
        onehot = self.pending & (~self.pending + 1)[:w]
        below = (onehot - 1)[:w]
        m.d.comb += [
            self.index.eq(popcount(below, w)),
            self.rank.eq(popcount(self.row & below, w)),
            self.rest.eq(self.pending & ~onehot),
        ]
        return m

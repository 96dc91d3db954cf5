"""Find-first-set scan over a row bitmap: the zero-skipping address generator."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BitScan", "popcount"]

CHUNK = 8   # bits per slice popcount done in the issue cycle (balances the two stages)


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
    """Pipelined scan of the lowest set bit of ``pending`` (one entry per cycle).

    ``rest`` is combinational (it closes the one-cycle scan loop through the engine's
    ``pending`` register); ``index`` and ``rank`` of an entry issued in cycle ``t``
    (``issue`` high) are registered and valid, with ``valid`` high, in cycle
    ``t + SCAN_LATENCY`` (:mod:`rtl.accelerator.cycle_model`).

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
    issue : In(1)
        Issue the lowest set bit of ``pending`` this cycle (``pending`` must be non-zero).
    rest : Out(width)
        ``pending`` with its lowest set bit cleared (combinational).
    valid : Out(1)
        ``index``/``rank`` belong to an entry issued ``SCAN_LATENCY`` cycles ago.
    index : Out(range(width + 1))
        ``k`` of that entry.
    rank : Out(range(width + 1))
        Position of entry ``k`` among the row's packed non-zeros: set bits of ``row`` below ``k``.
    """

    def __init__(self, width: int):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"BitScan: width must be a positive int, got {width!r}")
        self._width = width
        super().__init__({
            "pending": In(width), "row": In(width), "issue": In(1), "rest": Out(width),
            "valid": Out(1), "index": Out(range(width + 1)), "rank": Out(range(width + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        w = self._width
        dec = (self.pending - 1)[:w]
        below = dec & ~self.pending                 # the bits below the lowest set bit
        row_below = self.row & below
        # stage 1 (issue cycle): one carry chain, then popcounts of CHUNK-bit slices
        # (registered); stage 2: the balanced sums of the slice counts
        cnt_i, cnt_r = [], []
        for lo in range(0, w, CHUNK):
            hi = min(lo + CHUNK, w)
            ci, cr = Signal(range(hi - lo + 1)), Signal(range(hi - lo + 1))
            m.d.sync += [ci.eq(popcount(below[lo:hi], hi - lo)),
                         cr.eq(popcount(row_below[lo:hi], hi - lo))]
            cnt_i.append(ci)
            cnt_r.append(cr)
        v1 = Signal()
        m.d.sync += [v1.eq(self.issue), self.index.eq(_sum(cnt_i)), self.rank.eq(_sum(cnt_r)),
                     self.valid.eq(v1)]
        m.d.comb += self.rest.eq(self.pending & dec)
        return m


def _sum(terms):
    """Balanced adder tree over ``terms`` (one expression)."""
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return _sum(terms[:mid]) + _sum(terms[mid:])

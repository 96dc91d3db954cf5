"""Find-first-set scan over a row bitmap: the zero-skipping address generator."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BitScan", "popcount"]


def popcount(m: Module, v, width: int, name: str) -> Signal:
    """Number of set bits of the ``width``-bit value ``v``, via a SWAR adder tree.

    Every tree level is its own signal (added to ``m.d.comb``), which keeps the logic and
    the simulator's expressions linear in ``width``.
    """
    size = 1
    while size < width:
        size *= 2
    x = Signal(size, name=f"{name}_l0")
    m.d.comb += x.eq(v[:width])
    field, level = 1, 0
    while field < size:
        pattern = sum(((1 << field) - 1) << i for i in range(0, size, 2 * field))
        mask = Const(pattern, size)
        level += 1
        nxt = Signal(size, name=f"{name}_l{level}")
        m.d.comb += nxt.eq(((x & mask) + ((x >> field) & mask))[:size])
        x, field = nxt, field * 2
    out = Signal(range(width + 1), name=name)
    m.d.comb += out.eq(x)
    return out


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
        onehot = Signal(w)
        below = Signal(w)
        m.d.comb += [
            onehot.eq(self.pending & (~self.pending + 1)[:w]),
            below.eq((onehot - 1)[:w]),
            self.index.eq(popcount(m, below, w, "index_cnt")),
            self.rank.eq(popcount(m, self.row & below, w, "rank_cnt")),
            self.rest.eq(self.pending & ~onehot),
        ]
        return m

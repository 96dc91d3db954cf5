"""Bit-vector helpers of the datapath: one expression each, linear in the width.

Each is a single Amaranth expression without shared sub-terms, so it stays linear in the
width both in the netlist and in the simulator (which evaluates it in one pass);
:func:`sat_count` shares its nodes, so it adds them to a module as signals.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Signal

__all__ = ["lowest_one", "onehot_index", "onehot_select", "popcount", "sat_count", "tree_sum"]


def tree_sum(terms):
    """Balanced adder tree over ``terms``."""
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return tree_sum(terms[:mid]) + tree_sum(terms[mid:])


def popcount(v, width: int):
    """Number of set bits of the ``width``-bit value ``v`` (balanced adder tree)."""
    if width == 0:
        return Const(0, 1)
    return tree_sum([v[i] for i in range(width)])


def sat_count(m, v, width: int, name: str = "sat"):
    """``min(popcount(v), 3)`` of the ``width``-bit ``v`` as 2 bits: a balanced tree of
    saturating 2-bit adds, one 4-input function per output bit and level (no carry
    chain), for "at most one / two bits set" tests that must be shallow. Each node is a
    ``comb`` signal of module ``m`` (a node is read twice: as one expression the tree
    would grow exponentially in the simulator)."""
    def tree(lo, hi, path):
        if hi - lo == 1:
            return Cat(v[lo], Const(0, 1))
        mid = (lo + hi) // 2
        a, b = tree(lo, mid, path + "0"), tree(mid, hi, path + "1")
        node = Signal(2, name=f"{name}_{path}")
        s = a + b
        m.d.comb += node.eq(Mux(s > 3, 3, s))
        return node

    return tree(0, width, "") if width else Const(0, 2)


def lowest_one(v, width: int):
    """``v`` with only its lowest set bit kept (``v & -v``): one carry chain."""
    return (v & ~(v - 1))[:width]


def onehot_index(oh, width: int):
    """Binary index of the set bit of the one-hot ``oh`` (0 when ``oh`` is 0): OR trees."""
    bits = max(1, (width - 1).bit_length())
    return Cat(*[(oh & Const(sum(1 << k for k in range(width) if k >> i & 1), width)).any()
                 for i in range(bits)])


def onehot_select(oh, words, width: int):
    """The entry of ``words`` (a sequence of equal-width values) that the one-hot ``oh``
    selects, 0 when ``oh`` is 0: an AND-OR per bit, no priority chain."""
    w = len(words[0])
    planes = [Cat(*[words[k][b] for k in range(width)]) for b in range(w)]
    return Cat(*[(oh & p).any() for p in planes])

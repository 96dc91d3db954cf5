"""A register in a module of its own, to copy a high fan-out control register per lane."""

from __future__ import annotations

from amaranth.hdl import Module, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Replica"]


class Replica(wiring.Component):
    """``q`` is ``d`` of the previous cycle (init 0).

    Copies of one register, each in its own ``Replica``, stay separate when synthesis maps
    module by module (yosys ``opt_merge`` merges identical registers only inside a module):
    each copy drives one lane instead of one register driving every lane across the die.

    Members
    -------
    d : In(shape)
    q : Out(shape)
    """

    def __init__(self, shape=1):
        super().__init__({"d": In(Shape.cast(shape)), "q": Out(Shape.cast(shape))})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.d)
        return m

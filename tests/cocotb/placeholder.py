"""A tiny Component that exercises the export/cocotb plumbing without the real designs.

``i`` (stream of 8-bit values) -> ``o`` (stream of 16-bit running sums, each plus a
table entry ``lut[value % 4]``). The table is a ``Memory`` with initial contents and a
write port ``lut_*``, like the scheduler's LUTs.
"""

from amaranth import Module, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

LUT_INIT = (1, 2, 3, 4)


class Placeholder(wiring.Component):
    """Running sum with a table offset.

    Members
    -------
    i : In(stream.Signature(8))
    o : Out(stream.Signature(16))
        One output per input, ``sum(inputs so far) + lut[input % 4]`` modulo 2**16,
        available the cycle after the input's transfer; ``i.ready`` is low while an
        output waits.
    lut_addr, lut_data, lut_we : In
        Run-time table write.
    """

    i: In(stream.Signature(8))
    o: Out(stream.Signature(16))
    lut_addr: In(2)
    lut_data: In(8)
    lut_we: In(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.lut = lut = memory.Memory(shape=8, depth=4, init=LUT_INIT)
        wp = lut.write_port()
        rp = lut.read_port(domain="comb")
        m.d.comb += [wp.addr.eq(self.lut_addr), wp.data.eq(self.lut_data),
                     wp.en.eq(self.lut_we), rp.addr.eq(self.i.payload[:2])]
        acc = Signal(16)
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [acc.eq(acc + self.i.payload), self.o.valid.eq(1),
                         self.o.payload.eq(acc + self.i.payload + rp.data)]
        return m

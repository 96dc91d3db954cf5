"""UART-to-Wishbone bridge: the byte protocol of :mod:`rtl.host.protocol` as bus cycles."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import protocol, wishbone
from .uart import UARTRx, UARTTx

__all__ = ["UartBridge"]


class UartBridge(wiring.Component):
    """A Wishbone initiator commanded over a UART.

    Parameters
    ----------
    divisor : int
        Clock cycles per UART bit (clock / baud).
    addr_width : int
        Bus address bits (the protocol carries 16).

    Members
    -------
    rx : In(1); tx : Out(1)
        UART pins (idle high).
    bus : Out(wishbone.Signature(addr_width=addr_width))

    One command at a time: bytes that arrive before the reply to the previous command has
    been sent are dropped (the driver waits for every reply).
    """

    def __init__(self, *, divisor: int, addr_width: int):
        if not isinstance(addr_width, int) or not 1 <= addr_width <= 8 * protocol.ADDR_BYTES:
            self._MustUse__silence = True   # a rejected object is not an unused elaboratable
            raise ValueError(f"UartBridge: addr_width must be in 1..16, got {addr_width!r}")
        self._div, self._aw = divisor, addr_width
        self._rx, self._tx = UARTRx(divisor=divisor), UARTTx(divisor=divisor)
        super().__init__({
            "rx": In(1, init=1), "tx": Out(1, init=1),
            "bus": Out(wishbone.Signature(addr_width=addr_width)),
        })

    divisor = property(lambda self: self._div)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = self._rx
        m.submodules.tx = tx = self._tx
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]
        bus = self.bus
        got = rx.o.valid
        byte = rx.o.payload
        addr = Signal(8 * protocol.ADDR_BYTES)
        word = Signal(8 * protocol.DATA_BYTES)
        n = Signal(range(protocol.DATA_BYTES + 1))
        is_write = Signal()
        m.d.comb += [bus.adr.eq(addr), bus.dat_w.eq(word), bus.sel.eq(1), bus.we.eq(is_write)]

        with m.FSM():
            with m.State("CMD"), m.If(got):
                # a command byte: W or R; anything else is answered with NAK
                m.d.sync += [is_write.eq(byte == protocol.CMD_WRITE), n.eq(0)]
                with m.If((byte == protocol.CMD_WRITE) | (byte == protocol.CMD_READ)):
                    m.next = "ADDR"
                with m.Else():
                    m.d.sync += word.eq(protocol.NAK)
                    m.next = "REPLY1"
            with m.State("ADDR"), m.If(got):
                # address bytes, little-endian
                m.d.sync += [addr.eq((addr >> 8) | (byte << (len(addr) - 8))),
                             n.eq(n + 1)]
                with m.If(n == protocol.ADDR_BYTES - 1):
                    m.d.sync += n.eq(0)
                    m.next = "ADDR_DONE"
            with m.State("ADDR_DONE"):
                # writes take four data bytes, reads go to the bus at once
                m.next = "BUS"
                with m.If(is_write):
                    m.next = "DATA"
            with m.State("DATA"), m.If(got):
                # data bytes, little-endian
                m.d.sync += [word.eq((word >> 8) | (byte << (len(word) - 8))), n.eq(n + 1)]
                with m.If(n == protocol.DATA_BYTES - 1):
                    m.next = "BUS"
            with m.State("BUS"):
                # one bus cycle; a read's data becomes the reply
                m.d.comb += [bus.cyc.eq(1), bus.stb.eq(1)]
                with m.If(bus.ack):
                    m.d.sync += n.eq(0)
                    with m.If(is_write):
                        m.d.sync += word.eq(protocol.ACK)
                        m.next = "REPLY1"
                    with m.Else():
                        m.d.sync += word.eq(bus.dat_r)
                        m.next = "REPLY4"
            with m.State("REPLY1"):
                # one reply byte (ACK or NAK)
                m.d.comb += [tx.i.valid.eq(1), tx.i.payload.eq(word[:8])]
                with m.If(tx.i.ready):
                    m.next = "CMD"
            with m.State("REPLY4"):
                # four data bytes, little-endian
                m.d.comb += [tx.i.valid.eq(1), tx.i.payload.eq(word[:8])]
                with m.If(tx.i.ready):
                    m.d.sync += [word.eq(word >> 8), n.eq(n + 1)]
                    with m.If(n == protocol.DATA_BYTES - 1):
                        m.next = "CMD"
        return m

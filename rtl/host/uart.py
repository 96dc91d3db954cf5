"""8N1 UART receiver and transmitter (``divisor`` clock cycles per bit)."""


from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx"]


def _check(divisor):
    if not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"UART divisor must be an int >= 4 (clock cycles per bit), "
                         f"got {divisor!r}")


class UARTRx(wiring.Component):
    """Receiver: ``rx`` pin in (idle high), bytes out on ``o``.

    The pin goes through a two-flop synchroniser; a start bit is confirmed at its middle,
    each data bit sampled at its middle, LSB first. A byte with a bad stop bit is dropped
    (``frame_error`` pulses). ``o`` is always ready: a byte is valid for one cycle.
    """

    rx: In(1, init=1)
    o: Out(stream.Signature(8, always_ready=True))
    frame_error: Out(1)

    def __init__(self, *, divisor: int):
        _check(divisor)
        self._div = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        div = self._div
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(div))
        bit = Signal(range(8))
        shreg = Signal(8)
        with m.FSM():
            with m.State("IDLE"), m.If(~rx):
                # wait for the falling edge of a start bit
                m.d.sync += timer.eq(div // 2 - 1)
                m.next = "START"
            with m.State("START"):
                # middle of the start bit: still low, or a glitch
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(div - 1), bit.eq(0)]
                    with m.If(rx):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                # sample data bits at their middles, LSB first
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(div - 1), shreg.eq((shreg >> 1) | (rx << 7)),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                # middle of the stop bit: deliver the byte if it is high
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.comb += [self.o.valid.eq(rx), self.frame_error.eq(~rx)]
                    m.next = "IDLE"
        m.d.comb += self.o.payload.eq(shreg)
        return m


class UARTTx(wiring.Component):
    """Transmitter: bytes in on ``i``, ``tx`` pin out (idle high), start + 8 data + stop."""

    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, *, divisor: int):
        _check(divisor)
        self._div = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        div = self._div
        timer = Signal(range(div))
        bits = Signal(10)              # stop, data[7:0], start: shifted out LSB first
        count = Signal(range(12))      # 10 bits to send, then the stop bit's time, then 0
        m.d.comb += self.i.ready.eq(count == 0)
        with m.If(count == 0), m.If(self.i.valid):
            m.d.sync += [bits.eq((1 << 9) | (self.i.payload << 1)), count.eq(11),
                         timer.eq(0)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Elif(count == 1):
            m.d.sync += count.eq(0)        # the stop bit has lasted a full bit time
        with m.Else():
            m.d.sync += [self.tx.eq(bits[0]), bits.eq(bits >> 1), timer.eq(div - 1),
                         count.eq(count - 1)]
        return m

"""The UART and the UART-to-Wishbone bridge in simulation: bytes through the UART, the
bridge's protocol (NAK on garbage), and the board system driven by the Python driver over
simulated UART pins."""

from amaranth.hdl import Module
from amaranth.sim import Simulator

from rtl.board import BoardSystem
from rtl.host import protocol
from rtl.host.driver import HostDriver, SimUartTransport
from rtl.host.regmap import ID
from rtl.host.uart import UARTRx, UARTTx

DIV = 4


def simulate(dut, *benches, cycles=300_000):
    async def watchdog(ctx):
        await ctx.delay(cycles * 1e-8)
        raise TimeoutError(f"still running after {cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for b in benches:
        sim.add_testbench(b)
    sim.add_testbench(watchdog, background=True)
    sim.run()


def test_uart_loopback_back_to_back():
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor=5)
    m.submodules.rx = rx = UARTRx(divisor=5)
    m.d.comb += rx.rx.eq(tx.tx)
    sent = [0x00, 0xFF, 0x55, 0xA3, 0x01, 0x80]
    got = []

    async def producer(ctx):
        for b in sent:
            ctx.set(tx.i.payload, b)
            ctx.set(tx.i.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(tx.i.ready)
                if ready:
                    break
        ctx.set(tx.i.valid, 0)

    async def consumer(ctx):
        while len(got) < len(sent):
            _, _, v, p, err = await ctx.tick().sample(rx.o.valid, rx.o.payload,
                                                     rx.frame_error)
            assert not err
            if v:
                got.append(p)

    simulate(m, producer, consumer, cycles=5_000)
    assert got == sent


def test_bridge_drives_the_host_interface_over_uart():
    dut = BoardSystem(clk_hz=DIV * 1000, baud=1000, slots=4, lanes=8)
    assert dut.bridge.divisor == DIV
    out = {}

    async def bench(ctx):
        t = SimUartTransport(ctx, dut.rx, dut.tx, DIV)
        drv = HostDriver(t, dut.regmap)
        out["id"] = await t.read(dut.regmap["id"].addr)
        await t._send(b"?")                                  # garbage: NAK, then resync
        out["nak"] = await t._recv(1)
        out["info"] = await drv.check()
        await drv.write("ctrl", 2)
        out["ctrl"] = await drv.read("ctrl")
        await drv.set_ctrl()
        await drv.push_request({"tag": 77, "model": 1, "pattern": 0, "deadline": 5,
                                "priority": 2})
        comp = None
        while comp is None:
            comp = await drv.pop_completion()
        out["comp"] = comp
        out["counters"] = {k: await drv.read(k) for k in ("accepted", "completed",
                                                            "decisions")}

    simulate(dut, bench)
    assert out["id"] == ID and out["nak"] == bytes([protocol.NAK])
    assert out["info"]["slots"] == 4 and out["ctrl"] == 2
    assert out["comp"]["tag"] == 77
    assert out["counters"]["accepted"] == out["counters"]["completed"] == 1
    assert out["counters"]["decisions"] >= 1


def test_protocol_encoding_errors():
    assert protocol.encode_write(0x12, 0xA1B2C3D4) == b"W\x12\x00\xd4\xc3\xb2\xa1"
    assert protocol.encode_read(0x3C) == b"R\x3c\x00"
    assert protocol.decode_read(b"\x01\x00\x00\x80") == 0x80000001
    for bad in (lambda: protocol.encode_write(1 << 16, 0),
                lambda: protocol.encode_write(0, 1 << 32),
                lambda: protocol.decode_read(b"\x00"),
                lambda: protocol.check_ack(b"\x15")):
        try:
            bad()
        except (ValueError, protocol.ProtocolError) as e:
            assert "\n" not in str(e)
        else:
            raise AssertionError("no error")

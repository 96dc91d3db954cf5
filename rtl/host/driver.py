"""Python driver of the host interface (:mod:`rtl.host.csr`), over any word transport.

A transport has ``async read(addr) -> int`` and ``async write(addr, value)`` (32-bit
words, word addresses). Three are here: :class:`SimBusTransport` (Wishbone cycles in an
Amaranth async testbench), :class:`SimUartTransport` (the bridge's byte protocol as UART
bits on the simulated pins) and :class:`SerialTransport` (a serial port to a board, via
pyserial, the ``board`` extra). The driver is async so the simulated transports can
await clock edges; on a board run it with ``asyncio.run``.
"""

from __future__ import annotations

from sw_scheduler.bitexact import encode_request

from . import protocol
from .regmap import CTRL_CAPTURE, CTRL_HOLD, ID, POP_VALID, WORD, RegisterMap

__all__ = ["DriverError", "HostDriver", "SerialTransport", "SimBusTransport",
           "SimUartTransport"]


class DriverError(RuntimeError):
    """The device does not match the register map, or a FIFO refused an entry."""


# ---- transports -------------------------------------------------------------------------------
class SimBusTransport:
    """Wishbone classic initiator in an Amaranth async testbench (``ctx``) on ``bus``."""

    def __init__(self, ctx, bus):
        self.ctx, self.bus = ctx, bus

    async def _cycle(self, addr, value=None):
        ctx, bus = self.ctx, self.bus
        ctx.set(bus.adr, addr)
        ctx.set(bus.we, value is not None)
        ctx.set(bus.sel, 1)
        if value is not None:
            ctx.set(bus.dat_w, value)
        ctx.set(bus.cyc, 1)
        ctx.set(bus.stb, 1)
        while True:
            _, _, ack, dat_r = await ctx.tick().sample(bus.ack, bus.dat_r)
            if ack:
                break
        ctx.set(bus.cyc, 0)
        ctx.set(bus.stb, 0)
        return dat_r

    async def read(self, addr: int) -> int:
        return await self._cycle(addr)

    async def write(self, addr: int, value: int) -> None:
        await self._cycle(addr, value)


class _ByteTransport:
    """Word access over the bridge's byte protocol (``_send``/``_recv`` by subclasses)."""

    async def read(self, addr: int) -> int:
        await self._send(protocol.encode_read(addr))
        return protocol.decode_read(await self._recv(protocol.DATA_BYTES))

    async def write(self, addr: int, value: int) -> None:
        await self._send(protocol.encode_write(addr, value))
        protocol.check_ack(await self._recv(1))


class SimUartTransport(_ByteTransport):
    """8N1 UART bits on the simulated pins of a bridge: ``rx`` (into the board) and ``tx``.

    ``divisor`` clock cycles per bit, as the bridge was built with.
    """

    def __init__(self, ctx, rx, tx, divisor: int):
        self.ctx, self.rx, self.tx, self.div = ctx, rx, tx, divisor

    async def _bit(self, v):
        self.ctx.set(self.rx, v)
        for _ in range(self.div):
            await self.ctx.tick()

    async def _send(self, data: bytes):
        for k, byte in enumerate(data):
            await self._bit(0)
            for i in range(8):
                await self._bit((byte >> i) & 1)
            if k + 1 < len(data):
                await self._bit(1)
            else:
                # the line idles high: return at once, so _recv sees the reply's start bit
                self.ctx.set(self.rx, 1)

    async def _recv(self, n: int, limit: int = 100_000) -> bytes:
        out = []
        for _ in range(n):
            for _ in range(limit):                      # wait for the start bit
                _, _, v = await self.ctx.tick().sample(self.tx)
                if not v:
                    break
            else:
                raise protocol.ProtocolError(f"no reply byte within {limit} cycles")
            for _ in range(self.div // 2):              # to the middle of the start bit
                await self.ctx.tick()
            byte = 0
            for i in range(8):
                for _ in range(self.div):
                    await self.ctx.tick()
                byte |= self.ctx.get(self.tx) << i
            for _ in range(self.div):                   # stop bit
                await self.ctx.tick()
            out.append(byte)
        return bytes(out)


class SerialTransport(_ByteTransport):
    """A serial port to the board's bridge (``pyserial``; ``pip install '.[board]'``)."""

    def __init__(self, port: str, baud: int = 115200, timeout: float = 1.0):
        try:
            import serial
        except ImportError as e:
            raise DriverError("SerialTransport needs pyserial: pip install -e '.[board]'") \
                from e
        self.port = serial.Serial(port, baud, timeout=timeout)

    async def _send(self, data: bytes):
        self.port.write(data)

    async def _recv(self, n: int) -> bytes:
        got = self.port.read(n)
        if len(got) != n:
            raise protocol.ProtocolError(f"serial read timed out: {len(got)} of {n} bytes")
        return got

    def close(self):
        self.port.close()


# ---- the driver -------------------------------------------------------------------------------
class HostDriver:
    """Register-level and request-level access to a :class:`~rtl.host.csr.HostInterface`.

    Parameters
    ----------
    transport
        See the module docstring.
    regmap : RegisterMap
        The map the gateware was built with (:meth:`check` compares it with the device).
    """

    def __init__(self, transport, regmap: RegisterMap):
        self.t, self.map = transport, regmap
        self._req_free = 0      # request FIFO space known to be free (no read needed)

    # ---- words ----
    async def read(self, name: str) -> int:
        """The value of register ``name`` (all its words; a pop register: see pop)."""
        r = self.map[name]
        v = 0
        for i in range(r.words):
            v |= (await self.t.read(r.addr + i)) << (WORD * i)
        return v

    async def write(self, name: str, value: int) -> None:
        """Write ``value``; a stage register commits with its last word."""
        r = self.map[name]
        for i, w in enumerate(r.pack_words(value)):
            await self.t.write(r.addr + i, w)

    async def write_fields(self, name: str, fields: dict) -> None:
        """Pack ``fields`` with the register's layout and write (commit) it."""
        layout = self.map[name].layout
        await self.write(name, layout.const(fields).as_bits())

    async def pop(self, name: str) -> dict | None:
        """The head of FIFO ``name`` as fields, or None if it is empty."""
        r = self.map[name]
        head = await self.t.read(r.addr)
        if not head & POP_VALID:
            return None
        v = 0
        for i in range(1, r.words):
            v |= (await self.t.read(r.addr + i)) << (WORD * (i - 1))
        return _fields(r.layout, v)

    # ---- device ----
    async def check(self) -> dict:
        """Read the build parameters; raise DriverError if they differ from the map."""
        info = {name: await self.read(name) for name, r in self.map.registers.items()
                if r.kind == "const"}
        for name, r in self.map.registers.items():
            if r.kind == "const" and info[name] != r.value:
                what = "not a Dysta host interface" if name == "id" else "built differently"
                raise DriverError(f"device register {name} = {info[name]:#x}, the map says "
                                  f"{r.value:#x} ({what})")
        assert info["id"] == ID
        return info

    async def set_ctrl(self, *, capture: bool = False, hold: bool = False) -> None:
        await self.write("ctrl", (CTRL_CAPTURE if capture else 0) | (CTRL_HOLD if hold else 0))

    async def clear_counters(self) -> None:
        await self.write("clear", 1)

    async def counters(self) -> dict:
        return {name: await self.read(name) for name, r in self.map.registers.items()
                if r.kind == "counter"}

    async def status(self) -> dict:
        s, lv = await self.read("status"), await self.read("levels")
        return {"n_active": s & 0x1FF, "busy": s >> 9 & 1, "full": s >> 10 & 1,
                "overflow_seen": s >> 11 & 1, "late_seen": s >> 12 & 1,
                "req_level": lv & 0xFF, "comp_level": lv >> 8 & 0xFF, "out_level": lv >> 16}

    async def now(self) -> int:
        return await self.read("now")

    async def set_time(self, value: int) -> None:
        await self.write("time_w", value)

    # ---- tables and buffers ----
    async def write_lut(self, table: int, addr: int, word: int) -> None:
        await self.write_fields("lut_w", {"table": table, "addr": addr, "data": word})

    async def set_beta(self, code: int) -> None:
        """Dysta's beta (a BETA code) from the next SCAN on; ``read("beta")`` keeps the
        built value."""
        from ..scheduler.layouts import LUT_PARAM, PARAM_BETA
        await self.write_lut(LUT_PARAM, PARAM_BETA, code)

    async def load_images(self, images) -> None:
        """Write every word of :class:`~sw_scheduler.lut_image.LutImages` through lut_w."""
        from ..scheduler.layouts import LUT_LAYER, LUT_VARIANT
        for a, w in enumerate(images.variant):
            await self.write_lut(LUT_VARIANT, a, w)
        for a, w in enumerate(images.layer):
            await self.write_lut(LUT_LAYER, a, w)

    async def write_descriptor(self, addr: int, word: int) -> None:
        await self.write_fields("desc_w", {"addr": addr, "data": word})

    async def load(self, buf, addr: int, word: int) -> None:
        await self.write_fields("load", {"buf": buf, "addr": addr, "data": word})

    # ---- requests and completions ----
    async def push_request(self, request, *, release: int | None = None) -> None:
        """Queue ``request`` (a :class:`~sw_scheduler.records.Request` or request fields);
        with ``release`` (a ``now`` value) it is offered from that cycle on.

        Raises DriverError when the request FIFO stays full (read from ``levels`` only
        when the free space known from the last read is used up).
        """
        cfg = self.map.config
        fields = (encode_request(request, cfg.time_width) if hasattr(request, "arrival")
                  else dict(request))
        if self._req_free == 0:
            level = (await self.read("levels")) & 0xFF
            self._req_free = self.map.depths["req"] - level
            if self._req_free == 0:
                raise DriverError("request FIFO full: pop completions or wait")
        await self.write_fields("req", {
            "req": fields, "timed": int(release is not None),
            "release": (release or 0) % cfg.time_mod})
        self._req_free -= 1

    async def pop_completion(self) -> dict | None:
        return await self.pop("comp")

    async def pop_out(self) -> dict | None:
        return await self.pop("out")


def _fields(layout, value: int) -> dict:
    """Plain ints (signed fields sign-extended; arrays and structs as their raw bits) of
    every field of ``layout`` in ``value``."""
    out = {}
    for name, f in layout:
        v = (value >> f.offset) & ((1 << f.width) - 1)
        if getattr(f.shape, "signed", False) and v >> (f.width - 1):
            v -= 1 << f.width
        out[name] = v
    return out

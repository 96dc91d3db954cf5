"""Wishbone B4 classic bus signature (the names amaranth-soc and LiteX use).

Why Wishbone and not AXI4-Lite: a CSR block with one transfer at a time is all the host
needs (the UART bridge issues one access per command); Wishbone classic is one handshake
(``cyc``/``stb`` -> ``ack``) where AXI4-Lite has five channels to keep apart, which costs
logic and verification for no gain here, and it is the bus of the Amaranth ecosystem
(amaranth-soc, Glasgow, LiteX CSR bridges).
"""

from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Signature"]


class Signature(wiring.Signature):
    """Wishbone B4 classic, initiator's view; word addressed, granularity = data width.

    Members: ``adr`` (word address), ``dat_w``, ``dat_r``, ``sel`` (one bit: a write with
    ``sel = 0`` changes nothing), ``cyc``, ``stb``, ``we``, ``ack``. A target answers an
    access with ``ack`` for one cycle; the initiator then drops ``stb`` (or starts the next
    access after one idle cycle).
    """

    def __init__(self, *, addr_width: int, data_width: int = 32):
        if not isinstance(addr_width, int) or addr_width < 1:
            raise TypeError(f"addr_width must be a positive int, got {addr_width!r}")
        if data_width not in (8, 16, 32, 64):
            raise ValueError(f"data_width must be 8, 16, 32 or 64, got {data_width!r}")
        self._aw, self._dw = addr_width, data_width
        super().__init__({
            "adr": Out(addr_width), "dat_w": Out(data_width), "dat_r": In(data_width),
            "sel": Out(1), "cyc": Out(1), "stb": Out(1), "we": Out(1), "ack": In(1),
        })

    addr_width = property(lambda self: self._aw)
    data_width = property(lambda self: self._dw)

    def __eq__(self, other):
        return (isinstance(other, Signature) and other._aw == self._aw
                and other._dw == self._dw)

    def __hash__(self):
        return hash(("wishbone", self._aw, self._dw))

    def __repr__(self):
        return f"wishbone.Signature(addr_width={self._aw}, data_width={self._dw})"

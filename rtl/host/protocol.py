"""Byte protocol of the UART-to-Wishbone bridge (:mod:`rtl.host.bridge`), shared by the
gateware tests and the driver's serial transports.

Host -> board, little-endian:

``'W' a0 a1 d0 d1 d2 d3``  write word ``d`` at word address ``a``; the board answers ACK.
``'R' a0 a1``              read the word at ``a``; the board answers ``d0 d1 d2 d3``.

Any other first byte is answered with NAK and skipped (the stream resynchronises on the
next command byte).
"""

from __future__ import annotations

__all__ = ["ACK", "CMD_READ", "CMD_WRITE", "NAK", "ProtocolError", "check_ack", "decode_read",
           "encode_read", "encode_write"]

CMD_WRITE = ord("W")
CMD_READ = ord("R")
ACK = 0x06
NAK = 0x15
ADDR_BYTES = 2
DATA_BYTES = 4


class ProtocolError(RuntimeError):
    """The board answered something unexpected (the message says what)."""


def _addr(addr: int) -> bytes:
    if not 0 <= addr < 1 << (8 * ADDR_BYTES):
        raise ValueError(f"bridge address {addr!r} outside 0..{(1 << 8 * ADDR_BYTES) - 1}")
    return addr.to_bytes(ADDR_BYTES, "little")


def encode_write(addr: int, value: int) -> bytes:
    if not 0 <= value < 1 << (8 * DATA_BYTES):
        raise ValueError(f"bridge write value {value!r} is not a 32-bit word")
    return bytes([CMD_WRITE]) + _addr(addr) + value.to_bytes(DATA_BYTES, "little")


def encode_read(addr: int) -> bytes:
    return bytes([CMD_READ]) + _addr(addr)


def decode_read(reply: bytes) -> int:
    if len(reply) != DATA_BYTES:
        raise ProtocolError(f"read reply of {len(reply)} bytes, expected {DATA_BYTES}")
    return int.from_bytes(reply, "little")


def check_ack(reply: bytes) -> None:
    if reply != bytes([ACK]):
        raise ProtocolError(f"write answered {reply!r}, expected ACK {bytes([ACK])!r}")

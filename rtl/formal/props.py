"""Small property helpers shared by the formal specs.

Every spec is a :class:`Spec`: a port-less component that instantiates the design under
test, drives its inputs from ``AnySeq``/``AnyConst`` (the solver picks them) constrained
by ``Assume`` to the environment's contract, and states the design's contract with
``Assert``; ``Cover`` shows the interesting states are reachable within the depth.
"""

from __future__ import annotations

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, ResetSignal, Signal
from amaranth.lib import wiring

__all__ = ["Spec", "any_seq", "assert_stream_source", "assume_stream_source", "no_reset"]


class Spec(wiring.Component):
    """A formal wrapper: no ports, everything inside (``rtlil.convert(spec)`` needs none)."""

    def __init__(self):
        super().__init__({})


def no_reset(m) -> None:
    """Start from the registers' initial values and never reset (reset = the same state)."""
    m.d.comb += Assume(~ResetSignal("sync"))


def any_seq(m, value) -> None:
    """Drive ``value`` (a signal or a ``lib.data`` view) freely in every cycle."""
    v = value.as_value() if hasattr(value, "as_value") else value
    m.d.comb += v.eq(AnySeq(len(v)))


def _past_stalled(m, stream, name):
    """Registered ``valid & ~ready`` and payload of ``stream`` (the previous cycle)."""
    stalled = Signal(name=f"{name}_was_stalled")
    payload = Signal(len(stream.payload.as_value()), name=f"{name}_past_payload")
    m.d.sync += [stalled.eq(stream.valid & ~stream.ready),
                 payload.eq(stream.payload.as_value())]
    return stalled, payload


def assert_stream_source(m, stream, name: str) -> None:
    """The design drives ``stream``: once offered, ``valid`` and ``payload`` hold until
    ``ready`` (AXI-Stream / ``lib.stream`` rule)."""
    stalled, payload = _past_stalled(m, stream, name)
    with m.If(stalled):
        m.d.comb += [Assert(stream.valid, f"{name}: valid dropped while stalled"),
                     Assert(stream.payload.as_value() == payload,
                            f"{name}: payload changed while stalled")]


def assume_stream_source(m, stream, name: str) -> None:
    """The environment drives ``stream`` by the same rule (free otherwise)."""
    any_seq(m, stream.valid)
    any_seq(m, stream.payload)
    stalled, payload = _past_stalled(m, stream, name)
    with m.If(stalled):
        m.d.comb += [Assume(stream.valid), Assume(stream.payload.as_value() == payload)]

"""Named signatures of the port kinds the designs repeat."""

from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import Out

__all__ = ["WritePort"]


class WritePort(wiring.Signature):
    """A host write port with no flow control: one ``payload`` word per ``valid`` cycle.

    Members ``valid`` and ``payload`` (``Out`` from the writer's side), no ``ready``: the
    receiver takes every word (a constant ``ready`` could not be an exported port). Used
    for LUT, descriptor, buffer and time-base writes; ``wiring.connect`` joins two.
    """

    def __init__(self, layout):
        self._layout = layout
        super().__init__({"valid": Out(1), "payload": Out(layout)})

    @property
    def layout(self):
        return self._layout

    def __eq__(self, other):
        return isinstance(other, WritePort) and other._layout == self._layout

    def __hash__(self):
        return hash(("WritePort", repr(self._layout)))

    def __repr__(self):
        return f"WritePort({self._layout!r})"

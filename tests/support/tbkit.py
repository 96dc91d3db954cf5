"""Shared cocotb 2.x pieces: clock/reset, cycle counter, stream drivers and monitors.

Timing convention: inputs change on the falling clock edge; handshakes are sampled in
the read-only phase after that falling edge (all combinational paths settled), so a
sample at cycle ``n`` is the transfer that happens at the rising edge ending cycle ``n``.
Cycle ``0`` is the first cycle after reset is released. Payloads are plain integers
(packed ``lib.data`` layouts: use ``layout.const(...).as_bits()`` / ``_unpack``).
"""

from __future__ import annotations

import random
from collections import deque

from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

CLOCK_NS = 5  # 200 MHz, docs/design.md's default accelerator clock


def pauses(seed: int, p_pause: float):
    """Endless seeded generator of booleans: True = stall this cycle."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < p_pause


class TB:
    """Owns the clock, the reset and the cycle count of a ``clk``/``rst`` design."""

    def __init__(self, dut):
        self.dut = dut
        self.cycle = -1
        self._tasks = []

    async def start(self, reset_cycles: int = 3):
        """Start the clock, hold reset for ``reset_cycles``, release it on a falling edge."""
        Clock(self.dut.clk, CLOCK_NS, unit="ns").start()
        self.dut.rst.value = 1
        for _ in range(reset_cycles):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        self.cycle = 0
        import cocotb
        self._tasks.append(cocotb.start_soon(self._count()))

    async def _count(self):
        while True:
            await RisingEdge(self.dut.clk)
            self.cycle += 1

    async def cycles(self, n: int):
        for _ in range(n):
            await FallingEdge(self.dut.clk)


def sig(dut, name):
    """Handle of Verilog port ``name`` (Amaranth flattens ``a.b`` to ``a__b``)."""
    return getattr(dut, name.replace(".", "__"))


class StreamSource:
    """Drives ``<prefix>__valid``/``__payload`` from a queue, stalling by a pause generator.

    ``sent`` records ``(cycle, payload)`` of every completed transfer. A port without
    ``__ready`` (a ``WritePort``) takes every word.
    """

    def __init__(self, tb: TB, prefix: str, pause=None):
        self.tb, self.prefix = tb, prefix
        self.valid = sig(tb.dut, f"{prefix}__valid")
        name = f"{prefix}__ready"
        self.ready = getattr(tb.dut, name) if hasattr(tb.dut, name) else None
        self.payload = sig(tb.dut, f"{prefix}__payload")
        self.pause = pause
        self.queue: deque = deque()
        self.sent: list = []
        self.valid.value = 0

    def put(self, payload: int, at_cycle: int = 0):
        """Queue ``payload``; it is offered no earlier than cycle ``at_cycle``."""
        self.queue.append((at_cycle, payload))

    @property
    def idle(self) -> bool:
        return not self.queue

    async def run(self):
        offering = None
        while True:
            await FallingEdge(self.tb.dut.clk)
            due = offering is None and self.queue and self.queue[0][0] <= self.tb.cycle
            if due and (self.pause is None or not next(self.pause)):
                offering = self.queue.popleft()[1]
            self.valid.value = int(offering is not None)
            if offering is not None:
                self.payload.value = offering
            await ReadOnly()
            if offering is not None and (self.ready is None or int(self.ready.value)):
                self.sent.append((self.tb.cycle, offering))
                offering = None


class StreamSink:
    """Drives ``<prefix>__ready`` (stalling by a pause generator) and records transfers.

    ``received`` holds ``(cycle, payload)``; ``callback(cycle, payload)`` runs on each;
    ``stalls`` counts cycles with ``valid`` high and ``ready`` held low.
    """

    def __init__(self, tb: TB, prefix: str, pause=None, callback=None):
        self.tb = tb
        self.valid = sig(tb.dut, f"{prefix}__valid")
        self.ready = sig(tb.dut, f"{prefix}__ready")
        self.payload = sig(tb.dut, f"{prefix}__payload")
        self.pause, self.callback = pause, callback
        self.received: list = []
        self.stalls = 0
        self.ready.value = 0

    async def run(self):
        while True:
            await FallingEdge(self.tb.dut.clk)
            rdy = self.pause is None or not next(self.pause)
            self.ready.value = int(rdy)
            await ReadOnly()
            self.stalls += not rdy and int(self.valid.value)
            if rdy and int(self.valid.value):
                item = (self.tb.cycle, int(self.payload.value))
                self.received.append(item)
                if self.callback is not None:
                    self.callback(*item)


async def wait_until(tb: TB, cond, limit: int, what: str):
    """Wait (falling edges) until ``cond()`` holds; fail naming ``what`` after ``limit``."""
    for _ in range(limit):
        if cond():
            return
        await FallingEdge(tb.dut.clk)
    raise AssertionError(f"timeout after {limit} cycles waiting for {what}")


async def wait_len(tb: TB, seq, n: int, limit: int, what: str):
    """Wait until ``len(seq) >= n`` (see :func:`wait_until`)."""
    for _ in range(limit):
        if len(seq) >= n:
            return
        await FallingEdge(tb.dut.clk)
    raise AssertionError(f"timeout after {limit} cycles waiting for {what}")

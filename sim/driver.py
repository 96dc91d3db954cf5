"""Host request driver: workload requests -> the scheduler's request stream.

:func:`hw_requests` turns :class:`sim.workload.Request` objects into
:class:`sw_scheduler.bitexact.Request` stimulus (``cycle`` = arrival, ids, wrapped deadline,
priority index) for a
:class:`~rtl.scheduler.layouts.SchedulerConfig`. :class:`RequestDriver` is the driver
state every backend runs with the same contract:

* request ``i`` is presented (``requests.valid`` = 1, its payload) in every cycle
  ``k >= max(arrival_i, accept_{i-1} + 1)`` until the scheduler's ``ready`` completes
  the handshake; requests go in arrival order, never dropped;
* the handshake cycle is the request's *acceptance*; ``acceptance - arrival`` is its
  back-pressure wait (0 unless the task table was full or the scheduler was scanning).
"""

from __future__ import annotations

from sw_scheduler import formats as F
from sw_scheduler.bitexact import Request

__all__ = ["RequestDriver", "hw_requests", "pack_request"]


def hw_requests(requests, config) -> list[Request]:
    """Stimulus for ``config`` from workload requests (sorted by arrival, then tag).

    Raises ValueError naming the request and field that does not fit the hardware.
    """
    out = []
    lut = config.lut
    for r in sorted(requests, key=lambda q: (q.arrival, q.tag)):
        if r.priority not in F.PRIORITY_LEVELS:
            raise ValueError(f"request {r.tag}: field 'priority' = {r.priority!r} is not one "
                             f"of the hardware levels {F.PRIORITY_LEVELS}")
        for name, v, bits in (("tag", r.tag, F.TAG_WIDTH), ("model_id", r.model_id,
                                                            lut.model_bits),
                              ("pattern_id", r.pattern_id, lut.pattern_bits)):
            if not 0 <= v < 1 << bits:
                raise ValueError(f"request {r.tag}: field {name!r} = {v!r} does not fit "
                                 f"{bits} bits")
        if r.arrival < 0:
            raise ValueError(f"request {r.tag}: field 'arrival' = {r.arrival!r} is negative")
        out.append(Request(cycle=int(r.arrival), tag=r.tag, model=r.model_id,
                           pattern=r.pattern_id, deadline=int(r.deadline) % config.time_mod,
                           priority=F.PRIORITY_LEVELS.index(r.priority)))
    return out


def pack_request(config, r: Request) -> int:
    """``config.request_layout`` payload word of ``r``."""
    return config.pack(config.request_layout, {
        "tag": r.tag, "model": r.model, "pattern": r.pattern, "deadline": r.deadline,
        "priority": r.priority})


class RequestDriver:
    """Presents :class:`Request` objects in order (module docstring) and logs acceptance.

    Attributes
    ----------
    accepts : list[tuple[int, int]]
        ``(tag, acceptance cycle)`` in acceptance order.
    """

    def __init__(self, requests):
        self.requests = list(requests)
        self.i = 0
        self.free_from = 0          # first cycle the next request may be presented
        self.accepts: list[tuple[int, int]] = []

    @property
    def done(self) -> bool:
        return self.i >= len(self.requests)

    def offer(self, cycle: int) -> Request | None:
        """The request presented in ``cycle`` (None: ``valid`` = 0)."""
        if self.done:
            return None
        r = self.requests[self.i]
        return r if cycle >= max(r.cycle, self.free_from) else None

    def next_offer_cycle(self) -> int | None:
        """First cycle the pending request will be presented (None if none is left)."""
        if self.done:
            return None
        return max(self.requests[self.i].cycle, self.free_from)

    def accepted(self, cycle: int) -> Request:
        """The presented request was accepted in ``cycle``."""
        r = self.requests[self.i]
        self.accepts.append((r.tag, cycle))
        self.i += 1
        self.free_from = cycle + 1
        return r

    def waits(self) -> dict:
        """``tag -> acceptance - arrival`` (back-pressure wait in cycles)."""
        arr = {r.tag: r.cycle for r in self.requests}
        return {t: c - arr[t] for t, c in self.accepts}

"""Host request driver: workload requests -> the scheduler's request stream.

:func:`hw_requests` orders :class:`sw_scheduler.records.Request` objects as the host
offers them and refuses, before any simulation runs, one whose fields the hardware of a
:class:`~rtl.scheduler.layouts.SchedulerConfig` cannot encode. :class:`RequestDriver` is
the driver state every backend runs with the same contract:

* request ``i`` is presented (``requests.valid`` = 1, its payload) in every cycle
  ``k >= max(arrival_i, accept_{i-1} + 1)`` until the scheduler's ``ready`` completes
  the handshake; requests go in arrival order, never dropped;
* the handshake cycle is the request's *acceptance*; ``acceptance - arrival`` is its
  back-pressure wait (0 unless the task table was full or the scheduler was scanning).
"""

from __future__ import annotations

from sw_scheduler.bitexact import encode_request
from sw_scheduler.records import Request

__all__ = ["RequestDriver", "hw_requests", "pack_request"]


def hw_requests(requests, config) -> list[Request]:
    """``requests`` in offer order (arrival, then tag), each checked against ``config``.

    Tags wrap (the hardware field holds ``tag mod 2**TAG_WIDTH``), so any run length fits.
    Raises ValueError naming the request, the field and the value that does not fit.
    """
    out = sorted(requests, key=lambda q: (q.arrival, q.tag))
    lut = config.lut
    for r in out:
        for name, bits in (("model_id", lut.model_bits), ("pattern_id", lut.pattern_bits)):
            v = getattr(r, name)
            if not 0 <= v < 1 << bits:
                raise ValueError(f"request {r.tag}: field {name!r} = {v!r} does not fit "
                                 f"{bits} bits")
        pack_request(config, r)
    return out


def pack_request(config, r: Request) -> int:
    """``config.request_layout`` payload word of ``r`` (ValueError naming a field that does
    not fit)."""
    try:
        return config.pack(config.request_layout, encode_request(r, config.time_width))
    except ValueError as e:
        raise ValueError(f"request {r.tag}: {e}") from None


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
        return r if cycle >= max(r.arrival, self.free_from) else None

    def next_offer_cycle(self) -> int | None:
        """First cycle the pending request will be presented (None if none is left)."""
        if self.done:
            return None
        return max(self.requests[self.i].arrival, self.free_from)

    def accepted(self, cycle: int) -> Request:
        """The presented request was accepted in ``cycle``."""
        r = self.requests[self.i]
        self.accepts.append((r.tag, cycle))
        self.i += 1
        self.free_from = cycle + 1
        return r

    def waits(self) -> dict:
        """``tag -> acceptance - arrival`` (back-pressure wait in cycles)."""
        arr = {r.tag: r.arrival for r in self.requests}
        return {t: c - arr[t] for t, c in self.accepts}

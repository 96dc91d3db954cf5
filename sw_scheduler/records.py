"""The records of a run, shared by every model, harness and backend.

* :class:`Request` -- one inference request: what the host sends (tag, ids, arrival,
  deadline, priority) plus its sample's ground truth (per-layer cycles and output
  non-zeros), which only the simulated NPU sees. The reference models, the bit-exact
  model, the RTL harnesses and the system simulation all take this one type.
* :class:`Completion` -- a finished request as the metrics see it (finish in absolute
  cycles).
* :func:`check_conservation` -- every request completed exactly once, after it arrived
  (and after its acceptance, where the hardware logged one): the one check every run makes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Completion", "ConservationError", "Request", "check_conservation"]


class ConservationError(RuntimeError):
    """A request was not accepted once and completed once (a simulator or RTL bug)."""


@dataclass(frozen=True)
class Request:
    """One inference request (module docstring).

    ``arrival``/``deadline`` are absolute cycles; ``priority`` is a PREMA level
    (:data:`sw_scheduler.formats.PRIORITY_LEVELS`); ``model_id``/``pattern_id`` index the
    static tables' LUTs.
    """

    tag: int
    arrival: int
    deadline: int
    model: str = ""
    pattern: str = ""
    model_id: int = 0
    pattern_id: int = 0
    priority: int = 1
    sample: str = ""
    cycles: tuple[int, ...] = ()
    out_nnz: tuple[int, ...] = ()

    @property
    def iso(self) -> int:
        """True isolated cycles of this request's sample."""
        return sum(self.cycles)


@dataclass(frozen=True)
class Completion:
    """A finished request: its identity, deadline and finish cycle (absolute)."""

    tag: int
    model: str
    pattern: str
    arrival: int
    deadline: int
    finish: int
    iso: int          # true isolated cycles of the request's sample
    priority: int
    start: int = -1   # cycle its first layer began (-1: not recorded)

    @property
    def met(self) -> bool:
        """Finished by its deadline."""
        return self.finish <= self.deadline

    @classmethod
    def of(cls, r: Request, finish: int, start: int = -1) -> Completion:
        return cls(r.tag, r.model, r.pattern, r.arrival, r.deadline, finish, r.iso, r.priority,
                   start)


def check_conservation(requests, completions, *, accepts=None, where: str = "run") -> None:
    """Raise :class:`ConservationError` unless every request completed exactly once.

    ``completions``: objects with ``tag`` and, for reference runs, ``finish`` (never before
    ``arrival + iso``); ``accepts``: ``(tag, cycle)`` handshakes of a hardware run (each
    request accepted once, completed after its acceptance, ``completions`` then need a
    ``cycle``).
    """
    want = sorted(r.tag for r in requests)
    done = sorted(c.tag for c in completions)
    acc = sorted(t for t, _ in accepts) if accepts is not None else want
    if acc != want or done != want:
        seen, dup = set(), []
        for t in done:
            if t in seen and len(dup) < 10:
                dup.append(t)
            seen.add(t)
        missing = sorted(set(want) - seen)[:10]
        raise ConservationError(
            f"{where}: {len(want)} requests, {len(acc)} accepted, {len(done)} completed "
            f"({len(seen)} distinct); missing e.g. {missing}, duplicated e.g. {dup}")
    if accepts is not None:
        acc_at = dict(accepts)
        for c in completions:
            if c.cycle <= acc_at[c.tag]:
                raise ConservationError(f"{where}: request {c.tag} completed in cycle "
                                        f"{c.cycle}, not after its acceptance in cycle "
                                        f"{acc_at[c.tag]}")
    else:
        by_tag = {r.tag: r for r in requests}
        for c in completions:
            r = by_tag[c.tag]
            if c.finish < r.arrival + r.iso:
                raise ConservationError(f"{where}: request {c.tag} finished at {c.finish}, "
                                        f"before arrival {r.arrival} + isolated {r.iso}")

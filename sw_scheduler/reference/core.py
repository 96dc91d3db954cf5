"""Event-driven, layer-granularity reference simulator and the policy plugin interface.

One accelerator runs one layer of one request at a time, non-preemptively. The policy
decides after every layer and when a request arrives while the accelerator is idle;
decisions take zero time. Requests that arrive while a layer runs are admitted at the
end of that layer (arrival cycle ``<=`` the decision cycle). Time is integer cycles.

Policy interface (:class:`Policy`): ``select(now, active) -> ActiveRequest``;
``on_arrival(now, r)`` and ``on_layer_done(now, r, layer, nnz)`` hooks. The base class
keeps the Dysta gamma predictor (see :meth:`Policy.on_layer_done`) for every policy so
that "sparse" variants can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ActiveRequest", "Completion", "ConservationError", "Policy", "simulate"]


class ConservationError(RuntimeError):
    """A request did not complete exactly once (simulator bug)."""


class ActiveRequest:
    """Simulator-side state of one admitted request.

    Attributes a policy may read: ``tag, model, pattern, arrival, deadline, priority,
    layer`` (next layer to run), ``n_layers``, ``last_run`` (cycle its last layer ended,
    arrival before), ``gamma`` and ``stats`` (its :class:`VariantStats` in the policy's
    tables). ``cycles``/``out_nnz`` are ground truth: only the oracle may read them.
    ``token`` is free per-policy state.
    """

    __slots__ = (
        "arrival",
        "cycles",
        "deadline",
        "gamma",
        "last_run",
        "layer",
        "model",
        "n_layers",
        "out_nnz",
        "pattern",
        "priority",
        "ratio_n",
        "ratio_sum",
        "rem_true",
        "req",
        "stats",
        "tag",
        "token",
        "token_time",
    )

    def __init__(self, req, stats):
        self.req = req
        self.tag = req.tag
        self.model = req.model
        self.pattern = req.pattern
        self.arrival = req.arrival
        self.deadline = req.deadline
        self.priority = req.priority
        self.cycles = req.cycles
        self.out_nnz = req.out_nnz
        self.n_layers = len(req.cycles)
        self.layer = 0
        self.last_run = req.arrival
        self.gamma = 1.0
        self.ratio_sum = 0.0
        self.ratio_n = 0
        self.stats = stats
        self.token = 0.0
        self.token_time = req.arrival
        self.rem_true = sum(req.cycles)


@dataclass(frozen=True)
class Completion:
    tag: int
    model: str
    pattern: str
    arrival: int
    deadline: int
    finish: int
    iso: int          # true isolated cycles of the request's sample
    priority: int


class Policy:
    """Base scheduling policy: lowest ``key`` wins; ties by arrival, then tag.

    Parameters
    ----------
    tables : StaticTables
        Static tables the policy believes in (pattern-aware or averaged).
    gamma_mode : str
        ``"mean"`` (running mean of ratios) or ``"last"`` (last ratio).
    """

    name = "base"
    single_fast = True   # a lone active request is run without calling select()

    def __init__(self, tables, *, gamma_mode: str = "mean"):
        if gamma_mode not in ("mean", "last"):
            raise ValueError(f"gamma_mode must be 'mean' or 'last', got {gamma_mode!r}")
        self.tables = tables
        self.gamma_mode = gamma_mode

    def key(self, now: int, r: ActiveRequest, n_active: int) -> float:
        raise NotImplementedError

    def select(self, now: int, active: list) -> ActiveRequest:
        n = len(active)
        best, best_k = None, None
        for r in active:
            k = (self.key(now, r, n), r.arrival, r.tag)
            if best_k is None or k < best_k:
                best, best_k = r, k
        return best

    def on_arrival(self, now: int, r: ActiveRequest):
        pass

    def on_layer_done(self, now: int, r: ActiveRequest, layer: int, nnz: int):
        """Gamma update, as in ``formats.py``: ``ratio = nnz / mean_nnz[layer]``.

        Layers whose mean is 0 are skipped; gamma is the running mean of the ratios
        (or the last ratio) and 1.0 until the first counted layer.
        """
        mean = r.stats.mean_nnz[layer]
        if mean > 0:
            ratio = nnz / mean
            if self.gamma_mode == "last":
                r.gamma = ratio
            else:
                r.ratio_sum += ratio
                r.ratio_n += 1
                r.gamma = r.ratio_sum / r.ratio_n


def simulate(requests, policy: Policy) -> list[Completion]:
    """Run ``requests`` (any order) under ``policy``; return completions in finish order.

    Checks conservation: every request completes exactly once, never before
    ``arrival + iso``.
    """
    reqs = sorted(requests, key=lambda q: (q.arrival, q.tag))
    tags = [q.tag for q in reqs]
    if len(set(tags)) != len(tags):
        raise ValueError("simulate: request tags must be unique")
    stats_of = policy.tables.get
    active: list[ActiveRequest] = []
    done: list[Completion] = []
    now, i, n = 0, 0, len(reqs)
    while i < n or active:
        if not active and reqs[i].arrival > now:
            now = reqs[i].arrival
        while i < n and reqs[i].arrival <= now:
            a = ActiveRequest(reqs[i], stats_of(reqs[i].model, reqs[i].pattern))
            active.append(a)
            policy.on_arrival(now, a)
            i += 1
        r = active[0] if len(active) == 1 and policy.single_fast else policy.select(now, active)
        j = r.layer
        now += r.cycles[j]
        r.layer = j + 1
        r.rem_true -= r.cycles[j]
        r.last_run = now
        policy.on_layer_done(now, r, j, r.out_nnz[j])
        if r.layer == r.n_layers:
            active.remove(r)
            q = r.req
            done.append(Completion(q.tag, q.model, q.pattern, q.arrival, q.deadline, now,
                                   q.iso, q.priority))
    _check_conservation(reqs, done)
    return done


def _check_conservation(reqs, done):
    if len(done) != len(reqs) or {c.tag for c in done} != {q.tag for q in reqs}:
        raise ConservationError(f"{len(reqs)} requests admitted, {len(done)} completions "
                                f"({len({c.tag for c in done})} distinct)")
    for c in done:
        if c.finish < c.arrival + c.iso:
            raise ConservationError(f"request {c.tag} finished at {c.finish}, before "
                                    f"arrival {c.arrival} + isolated {c.iso}")


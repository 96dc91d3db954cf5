"""Reference scheduling policies (float), all on the :class:`~.core.Policy` interface.

Estimates a policy may use (``l`` = next layer, tables = the policy's static tables):
``rem = REM[m,p,l]`` (mean remaining cycles), ``iso = iso[m,p]`` (mean isolated cycles),
``next = mean_cycles[m,p,l]``. "-sparse" variants multiply ``rem``/``next`` by the
request's gamma (measured / mean output non-zeros of its executed layers). Semantics and
the places where we differ from the paper's artifact: ``docs/scheduling.md``.
"""

from __future__ import annotations

from .core import Policy

__all__ = [
    "FCFS",
    "POLICIES",
    "PREMA",
    "SDRM3",
    "SJF",
    "Dysta",
    "DystaOracle",
    "Planaria",
    "make_policy",
    "policy_names",
]


class FCFS(Policy):
    """First come, first served: earliest arrival."""

    name = "fcfs"

    def key(self, now, r, n_active):
        return r.arrival


class SJF(Policy):
    """Shortest (estimated remaining) job first."""

    name = "sjf"

    def __init__(self, tables, *, sparse: bool = False, **kw):
        super().__init__(tables, **kw)
        self.sparse = sparse

    def key(self, now, r, n_active):
        rem = r.stats.rem[r.layer]
        return r.gamma * rem if self.sparse else rem


class PREMA(Policy):
    """PREMA (HPCA 2020), token based.

    Token starts at the priority (1/3/9); at each decision every request's token grows by
    ``priority * waited / iso`` (cycles waited since its last layer or the previous
    decision). Threshold = the largest of 9, 3, 1 not above the maximum token; among the
    requests whose token reaches it, the shortest estimated remaining time runs.
    """

    name = "prema"

    def __init__(self, tables, *, sparse: bool = False, **kw):
        super().__init__(tables, **kw)
        self.sparse = sparse

    def on_arrival(self, now, r):
        r.token = float(r.priority)
        r.token_time = now

    def select(self, now, active):
        top = 0.0
        for r in active:
            waited = now - max(r.last_run, r.token_time)
            if waited > 0:
                r.token += r.priority * waited / r.stats.iso
            r.token_time = now
            top = max(top, r.token)
        thr = 9 if top >= 9 else 3 if top >= 3 else 1
        best, best_k = None, None
        for r in active:
            if r.token >= thr:
                rem = r.stats.rem[r.layer]
                k = (r.gamma * rem if self.sparse else rem, r.arrival, r.tag)
                if best_k is None or k < best_k:
                    best, best_k = r, k
        return best


class Planaria(Policy):
    """Planaria (MICRO 2020) style: highest ``priority / slack`` first.

    ``slack = deadline - now - rem``, floored at 1 cycle (late requests all get the
    maximal ``priority / 1``; then priority, arrival, tag decide).
    """

    name = "planaria"

    def key(self, now, r, n_active):
        slack = r.deadline - now - r.stats.rem[r.layer]
        return -r.priority / max(slack, 1.0)


class SDRM3(Policy):
    """SDRM3 (arXiv 2022): highest ``urgency + alpha * fairness``.

    ``urgency = min(1, rem / (deadline - now))`` (1 once the deadline has passed),
    ``fairness = (now - last_run) / next`` (``next`` = estimated cycles of its next layer).
    """

    name = "sdrm3"

    def __init__(self, tables, *, sparse: bool = False, alpha: float = 1.0, **kw):
        super().__init__(tables, **kw)
        self.sparse = sparse
        self.alpha = alpha

    def key(self, now, r, n_active):
        g = r.gamma if self.sparse else 1.0
        rem = g * r.stats.rem[r.layer]
        left = r.deadline - now
        urgency = 1.0 if left <= 0 else min(1.0, rem / left)
        nxt = max(g * r.stats.mean_cycles[r.layer], 1.0)
        return -(urgency + self.alpha * (now - r.last_run) / nxt)


class Dysta(Policy):
    """Dysta score (DESIGN.md), lowest first.

    ``rem = gamma * REM[m,p,l]``, ``urgency = max(0, deadline - now - rem)``,
    ``penalty = (now - last_run) / iso / n_active``,
    ``score = rem + beta * (urgency + kappa * penalty)``, kappa in cycles.
    """

    name = "dysta"

    def __init__(self, tables, *, beta: float | None = None, kappa_cycles: int | None = None,
                 **kw):
        super().__init__(tables, **kw)
        self.beta = tables.beta if beta is None else beta
        self.kappa = tables.kappa_cycles if kappa_cycles is None else kappa_cycles

    def remaining(self, r) -> float:
        return r.gamma * r.stats.rem[r.layer]

    def isolated(self, r) -> float:
        return r.stats.iso

    def key(self, now, r, n_active):
        rem = self.remaining(r)
        urgency = r.deadline - now - rem
        if urgency < 0:
            urgency = 0.0
        pen = (now - r.last_run) / self.isolated(r) / n_active
        return rem + self.beta * (urgency + self.kappa * pen)


class DystaOracle(Dysta):
    """Dysta score with the true remaining and true isolated cycles of the sample."""

    name = "dysta-oracle"

    def remaining(self, r) -> float:
        return r.rem_true

    def isolated(self, r) -> float:
        return r.req.iso


def _nopattern(tables, **kw):
    p = Dysta(tables.pattern_averaged(), **kw)
    p.name = "dysta-nopattern"
    return p


POLICIES = {
    "fcfs": lambda t, **kw: FCFS(t, **kw),
    "sjf": lambda t, **kw: SJF(t, **kw),
    "sjf-sparse": lambda t, **kw: SJF(t, sparse=True, **kw),
    "prema": lambda t, **kw: PREMA(t, **kw),
    "prema-sparse": lambda t, **kw: PREMA(t, sparse=True, **kw),
    "planaria": lambda t, **kw: Planaria(t, **kw),
    "sdrm3": lambda t, **kw: SDRM3(t, **kw),
    "sdrm3-sparse": lambda t, **kw: SDRM3(t, sparse=True, **kw),
    "dysta": lambda t, **kw: Dysta(t, gamma_mode="mean", **kw),
    "dysta-last": lambda t, **kw: Dysta(t, gamma_mode="last", **kw),
    "dysta-nopattern": lambda t, **kw: _nopattern(t, **kw),
    "dysta-oracle": lambda t, **kw: DystaOracle(t, **kw),
}


def policy_names() -> list[str]:
    return list(POLICIES)


def make_policy(name: str, tables, **kw) -> Policy:
    """Instantiate policy ``name`` (see :data:`POLICIES`) on ``tables``."""
    try:
        factory = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r} (known: {', '.join(POLICIES)})") from None
    p = factory(tables, **kw)
    p.name = name
    return p

"""Event-driven, layer-granularity reference simulator and the policy plugin interface.

One accelerator runs one layer of one request at a time, non-preemptively. The policy
decides after every layer and when a request arrives while the accelerator is idle;
decisions take zero time. Requests that arrive while a layer runs are admitted at the
end of that layer (arrival cycle ``<=`` the decision cycle). Time is integer cycles.
With ``capacity=C`` (``simulate(..., capacity=C)``, the hardware's task-table size) at
most ``C`` requests are admitted at once; the others wait in arrival order (FIFO) and are
admitted at the first decision with a free place, as the hardware's table back-pressures.

Policy interface (:class:`Policy`): ``select(now, active) -> ActiveRequest`` plus the
hooks ``on_arrival(now, r)`` and ``on_layer_done(now, r, layer, nnz)``. A policy that
only defines ``score(now, x, n_active)`` (lowest wins; ties: the attributes named in
``ties``, then earliest arrival, then lowest tag) written with numpy ufuncs so that ``x``
may hold scalars *or* arrays, and sets ``vector = True``, runs on the vectorised engine,
which evaluates all active requests at once.

Engines (``simulate(..., engine=)``), all giving the same schedule (tested): ``"scalar"``
(the plain definition above, any policy), ``"vector"`` (numpy over the active set) and
``"fast"`` (the package's own policies: a pure-Python decision rule per policy from
``Policy._fast_kernel``, requests alone on the accelerator run straight to the next
arrival, policies whose waiting requests' keys are constant keep them in a heap, and the
vector kernels take over while the active set is large).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from heapq import heappop, heappush, heapreplace
from itertools import accumulate, pairwise

import numpy as np

from ..records import Completion, ConservationError, check_conservation

__all__ = ["GAMMA_MODES", "ActiveRequest", "Completion", "ConservationError", "Policy",
           "gamma_inputs", "gamma_step",
           "simulate"]


GAMMA_MODES = ("mean", "last", "busy")


def gamma_inputs(mode: str, layer: int, stats, nnz: int, cycles: int):
    """``(mean, measured)`` one layer feeds into :func:`gamma_step` under ``mode``:
    output non-zeros (``mean``/``last``) or busy cycles (``busy``)."""
    if mode == "busy":
        return stats.mean_cycles[layer], cycles
    return stats.mean_nnz[layer], nnz


def gamma_step(mode: str, mean: float, nnz: int, rsum: float, rn: int):
    """One gamma update (``formats.py`` semantics); return ``(gamma | None, rsum, rn)``.

    ``ratio = nnz / mean``; a layer with ``mean == 0`` is skipped (``None``: unchanged);
    ``mode`` ``"mean"``: running mean of the ratios, ``"last"``: the last ratio;
    ``"busy"``: ``nnz``/``mean`` are the layer's measured / mean busy cycles and gamma is
    the ratio of their sums over the executed layers (``sim.predictor_eval``: the most
    accurate forecast of the remaining cycles on input-dependent workloads).
    """
    if mode == "busy":
        if mean > 0:
            rsum += nnz
            rn += mean
            return rsum / rn, rsum, rn
        return None, rsum, rn
    if mean > 0:
        ratio = nnz / mean
        if mode == "last":
            return ratio, rsum, rn
        rsum += ratio
        rn += 1
        return rsum / rn, rsum, rn
    return None, rsum, rn


class ActiveRequest:
    """Simulator-side state of one admitted request (scalar engine).

    Readable by a policy: ``tag, model, pattern, arrival, deadline, priority, layer``
    (next layer to run), ``n_layers``, ``last_run`` (cycle its last layer ended, arrival
    before), ``gamma``, ``stats`` (its :class:`VariantStats` in the policy's tables) and
    the estimates ``rem_est = stats.rem[layer]``, ``next_est = stats.mean_cycles[layer]``,
    ``iso_est = stats.iso``. Ground truth, for the oracle only: ``rem_true``,
    ``iso_true``, ``cycles``, ``out_nnz``. ``token``/``token_time``: free policy state.
    """

    __slots__ = ("arrival", "cycles", "deadline", "gamma", "iso_true", "last_run", "layer",
                 "model", "n_layers", "out_nnz", "pattern", "priority", "ratio_n",
                 "ratio_sum", "rem_true", "req", "start", "stats", "tag", "token",
                 "token_time")

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
        self.start = -1                 # cycle its first layer began
        self.gamma = 1.0
        self.ratio_sum = 0.0
        self.ratio_n = 0
        self.stats = stats
        self.token = 0.0
        self.token_time = req.arrival
        self.rem_true = sum(req.cycles)
        self.iso_true = self.rem_true

    @property
    def rem_est(self) -> float:
        return float(self.stats.rem[self.layer])

    @property
    def next_est(self) -> float:
        return float(self.stats.mean_cycles[min(self.layer, self.n_layers - 1)])

    @property
    def iso_est(self) -> float:
        return self.stats.iso


class Policy:
    """Base scheduling policy: lowest ``score`` wins; ties by ``ties``, arrival, then tag.

    Parameters
    ----------
    tables : StaticTables
        Static tables the policy believes in (pattern-aware or averaged).
    gamma_mode : str
        ``"mean"`` (running mean of ratios) or ``"last"`` (last ratio).
    """

    name = "base"
    vector = False   # True: score() accepts array-valued request views
    stateful_select = False   # True: select must run even for a lone request (state update)
    ties: tuple = ()   # request attributes breaking score ties (lowest first), before arrival

    def __init__(self, tables, *, gamma_mode: str = "mean"):
        if gamma_mode not in GAMMA_MODES:
            raise ValueError(f"gamma_mode must be one of {GAMMA_MODES}, got {gamma_mode!r}")
        self.tables = tables
        self.gamma_mode = gamma_mode

    def score(self, now: int, x, n_active: int):
        raise NotImplementedError

    def key(self, now: int, r: ActiveRequest, n_active: int) -> float:
        return float(self.score(now, r, n_active))

    def select(self, now: int, active: list) -> ActiveRequest:
        n = len(active)
        ties = self.ties
        best, best_k = None, None
        for r in active:
            k = (self.key(now, r, n), *(getattr(r, f) for f in ties), r.arrival, r.tag)
            if best_k is None or k < best_k:
                best, best_k = r, k
        return best

    def select_index(self, now: int, v, n_active: int) -> int:
        """Vector engine: position of the chosen request in the active arrays ``v``."""
        sc = self.score(now, v, n_active)
        if not self.ties:
            return int(np.argmin(sc))               # first min = earliest arrival
        # stable lexicographic sort: score, then the tie attributes, then position
        return int(np.lexsort([getattr(v, f) for f in reversed(self.ties)] + [sc])[0])

    def on_arrival(self, now: int, r: ActiveRequest):
        pass

    def on_arrival_vector(self, now: int, s, i: int):
        """Vector-engine arrival hook (state arrays ``s``, request index ``i``)."""

    def on_layer_done(self, now: int, r: ActiveRequest, layer: int, nnz: int):
        """Gamma update (:func:`gamma_step`) with the policy's mean non-zeros."""
        mean, seen = gamma_inputs(self.gamma_mode, layer, r.stats, nnz, r.cycles[layer])
        g, r.ratio_sum, r.ratio_n = gamma_step(self.gamma_mode, mean, seen,
                                               r.ratio_sum, r.ratio_n)
        if g is not None:
            r.gamma = g

    def _fast_kernel(self):
        """The policy's decision rule for the fast engine (:class:`_Kernel`), or ``None``."""


@dataclass
class _Kernel:
    """Pure-Python decision rule of one policy for the fast engine.

    Exactly one of ``pick`` / ``key``. The rule reads the :class:`_Job` fields
    ``arrival, deadline, priority, tag, layer, last_run, gamma, rem_est, next_est,
    iso_est, token, token_time, pre`` (prefix sums of the true cycles) and ``iso`` and must
    compute the policy's score with the same float operations, in the same order, as its
    ``score`` (bit-identical schedules).

    pick : ``pick(now, jobs) -> job``
        Scan rule over the active jobs (in arrival, tag order; first best wins).
    key : ``key(job) -> tuple``
        Complete order (lowest runs) that depends on the job's own state only, so it
        changes only for the job that ran (heap of waiting jobs).
    monotone : ``"always"`` / ``"rem"`` / ``"never"``
        ``key`` never increases while a job runs (always, or when the variant's ``rem``
        table is non-increasing): a running job keeps running until the next arrival.
    stateful : bool
        ``pick`` updates state and must run even for a lone job.
    gamma : bool
        The rule reads ``gamma`` (the engine maintains it only then).
    on_arrival : ``on_arrival(now, job)`` or None
    """

    pick: object = None
    key: object = None
    monotone: str = "never"
    stateful: bool = False
    gamma: bool = False
    on_arrival: object = None


def simulate(requests, policy: Policy, *, engine: str = "auto",
             capacity: int | None = None) -> list[Completion]:
    """Run ``requests`` (any order) under ``policy``; return completions in finish order.

    ``engine``: ``"scalar"`` (ActiveRequest objects, any policy; the definition),
    ``"vector"`` (numpy, policies with ``vector = True``), ``"fast"`` (this package's
    policies, unsubclassed outside it) or ``"auto"`` (fast, else vector unless the
    policy's class overrides ``select``/``on_arrival``/``on_layer_done`` outside this
    package, else scalar). ``capacity``: at most that many admitted requests (FIFO
    admission, module docstring); None = unbounded. Checks conservation: every request
    completes exactly once, never before ``arrival + iso``.
    """
    if capacity is not None and (not isinstance(capacity, int) or capacity < 1):
        raise ValueError(f"simulate: capacity must be an int >= 1 or None, got {capacity!r}")
    reqs = sorted(requests, key=lambda q: (q.arrival, q.tag))
    cap = len(reqs) + 1 if capacity is None else capacity
    tags = [q.tag for q in reqs]
    if len(set(tags)) != len(tags):
        raise ValueError("simulate: request tags must be unique")
    kern = policy._fast_kernel() if engine in ("auto", "fast") and _fast_ok(policy) else None
    if engine == "auto":
        engine = "fast" if kern else "vector" if _vector_ok(policy) else "scalar"
    if engine == "fast":
        if kern is None:
            raise ValueError(f"policy {policy.name!r} has no fast-engine rule")
        done = _run_fast(reqs, policy, kern, cap)
    elif engine == "vector":
        if not policy.vector:
            raise ValueError(f"policy {policy.name!r} has no vectorised score")
        done = _run_vector(reqs, policy, cap)
    elif engine == "scalar":
        done = _run_scalar(reqs, policy, cap)
    else:
        raise ValueError(f"engine must be 'auto', 'scalar', 'vector' or 'fast', got {engine!r}")
    check_conservation(reqs, done, where=f"reference {policy.name}")
    return done


def _vector_ok(policy) -> bool:
    """Vector engine only if no scalar hook was overridden outside this package.

    A subclass (e.g. a shadowing/logging wrapper) that overrides ``select``,
    ``on_arrival`` or ``on_layer_done`` must see those calls: it runs on the scalar engine.
    """
    if not policy.vector:
        return False
    cls = type(policy)
    return all(getattr(cls, h).__module__.startswith(__package__)
               for h in ("select", "on_arrival", "on_layer_done"))


def _fast_ok(policy) -> bool:
    """Fast engine only for this package's own classes (any outside subclass may change
    ``score`` or a hook, which the per-policy rule would not see) that provide a rule."""
    if any(callable(v) for v in vars(policy).values()):    # e.g. an instance-level score
        return False
    return all(c is object or c.__module__.startswith(__package__) for c in type(policy).__mro__)


def _completion(q, now, start):
    return Completion(q.tag, q.model, q.pattern, q.arrival, q.deadline, now, q.iso, q.priority,
                      start)


def _run_scalar(reqs, policy, cap):
    stats_of = policy.tables.get
    active: list[ActiveRequest] = []
    done: list[Completion] = []
    now, i, n = 0, 0, len(reqs)
    while i < n or active:
        if not active and reqs[i].arrival > now:
            now = reqs[i].arrival
        while i < n and reqs[i].arrival <= now and len(active) < cap:
            a = ActiveRequest(reqs[i], stats_of(reqs[i].model, reqs[i].pattern))
            active.append(a)
            policy.on_arrival(now, a)
            i += 1
        r = policy.select(now, active)
        j = r.layer
        if j == 0:
            r.start = now
        now += r.cycles[j]
        r.layer = j + 1
        r.rem_true -= r.cycles[j]
        r.last_run = now
        policy.on_layer_done(now, r, j, r.out_nnz[j])
        if r.layer == r.n_layers:
            active.remove(r)
            done.append(_completion(r.req, now, r.start))
    return done


class _State:
    """Struct of arrays over the *active* requests, in (arrival, tag) order.

    Finished requests are deleted and arrivals appended, so every array holds exactly the
    active requests and ``argmin`` picks the earliest (arrival, tag) among equal keys.
    """

    FIELDS = ("arrival", "deadline", "priority", "tag", "last_run", "gamma", "token",
              "token_time", "rem_est", "next_est", "iso_est", "rem_true", "iso_true")

    def __init__(self, capacity: int):
        self._m = np.zeros((len(self.FIELDS), max(capacity, 1)), np.float64)
        self._n = 0
        self._refresh()

    def _refresh(self):
        for f, row in zip(self.FIELDS, self._m):
            setattr(self, f, row[:self._n])     # views: in-place updates reach the matrix

    def append(self, rows: list[dict]):
        n, r = self._n, len(rows)
        if n + r > self._m.shape[1]:            # grow (the vector engine sizes it up front)
            m = np.zeros((len(self.FIELDS), max(2 * self._m.shape[1], n + r)), np.float64)
            m[:, :n] = self._m[:, :n]
            self._m = m
        self._m[:, n:n + r] = [[row[f] for row in rows] for f in self.FIELDS]
        self._n = n + r
        self._refresh()

    def delete(self, k: int):
        n = self._n
        self._m[:, k:n - 1] = self._m[:, k + 1:n]
        self._n = n - 1
        self._refresh()


def _run_vector(reqs, policy, cap):
    n = len(reqs)
    tables = policy.tables
    cache = {}
    mode = policy.gamma_mode
    s = _State(n)
    # per active position: request, its tables (rem, mean_cycles, mean_nnz), layer, rsum, rn
    act_req, act_tab, act_layer, act_rsum, act_rn, act_start = [], [], [], [], [], []
    done = []
    now, i = 0, 0
    while i < n or act_req:
        if not act_req and reqs[i].arrival > now:
            now = reqs[i].arrival
        rows = []
        while i < n and reqs[i].arrival <= now and len(act_req) < cap:
            q = reqs[i]
            key = (q.model, q.pattern)
            if key not in cache:
                st = tables.get(*key)
                cache[key] = (st.rem.tolist(), st.mean_cycles.tolist(), st.mean_nnz.tolist(),
                              st.iso)
            t = cache[key]
            rows.append({"arrival": q.arrival, "deadline": q.deadline, "priority": q.priority,
                         "tag": q.tag, "last_run": q.arrival, "gamma": 1.0, "token": 0.0,
                         "token_time": q.arrival, "rem_est": t[0][0], "next_est": t[1][0],
                         "iso_est": t[3], "rem_true": q.iso, "iso_true": q.iso})
            act_req.append(q)
            act_tab.append(t)
            act_layer.append(0)
            act_rsum.append(0.0)
            act_rn.append(0)
            act_start.append(-1)
            i += 1
        if rows:
            base = len(s.arrival)
            s.append(rows)
            for k in range(len(rows)):
                policy.on_arrival_vector(now, s, base + k)
        if len(act_req) == 1 and not policy.stateful_select:
            j = 0
        else:
            j = policy.select_index(now, s, len(act_req))
        q = act_req[j]
        lay = act_layer[j]
        if lay == 0:
            act_start[j] = now
        c = q.cycles[lay]
        now += c
        lay += 1
        act_layer[j] = lay
        s.rem_true[j] -= c
        s.last_run[j] = now
        rem_t, mc_t, nnz_t, _ = act_tab[j]
        if mode == "busy":
            g, act_rsum[j], act_rn[j] = gamma_step(mode, mc_t[lay - 1], c, act_rsum[j],
                                                   act_rn[j])
        else:
            g, act_rsum[j], act_rn[j] = gamma_step(mode, nnz_t[lay - 1], q.out_nnz[lay - 1],
                                                   act_rsum[j], act_rn[j])
        if g is not None:
            s.gamma[j] = g
        if lay == len(q.cycles):
            s.delete(j)
            start = act_start[j]
            for lst in (act_req, act_tab, act_layer, act_rsum, act_rn, act_start):
                del lst[j]
            done.append(_completion(q, now, start))
        else:
            s.rem_est[j] = rem_t[lay]
            s.next_est[j] = mc_t[lay]
    return done


class _Job:
    """Fast-engine state of one admitted request (see :class:`_Kernel` for the fields a
    decision rule reads)."""

    __slots__ = ("arrival", "deadline", "gamma", "gammas", "iso", "iso_est", "last_run",
                 "layer", "mono", "n_layers", "next_est", "next_tab", "pre", "priority", "q",
                 "rem_est", "rem_tab", "start", "tag", "token", "token_time")


def _gammas(mode, nnz, mean):
    """Gamma after ``k`` executed layers, ``k = 0..L`` (the :func:`gamma_step` sequence;
    ``busy``: ``nnz``/``mean`` are the measured / mean cycles)."""
    if mode == "busy":
        out, g, rsum, rn = [1.0], 1.0, 0.0, 0.0
        for z, m in zip(nnz, mean):
            g, rsum, rn = (g, rsum, rn) if m <= 0 else gamma_step(mode, m, z, rsum, rn)
            out.append(g)
        return out
    out = [1.0]
    g, rsum, rn = 1.0, 0.0, 0
    last = mode == "last"
    for z, m in zip(nnz, mean):
        if m > 0:
            if last:
                g = z / m
            else:
                rsum += z / m
                rn += 1
                g = rsum / rn
        out.append(g)
    return out


def _run_fast(reqs, policy, kern, cap=None):
    tables = policy.tables
    mode = policy.gamma_mode
    use_gamma = kern.gamma
    mono_kind = kern.monotone
    cache = {}

    def variant(model, pattern):
        st = tables.get(model, pattern)
        rem = st.rem.tolist()
        mono = mono_kind == "always" or (
            mono_kind == "rem" and all(a >= b for a, b in pairwise(rem)))
        t = cache[(model, pattern)] = (rem, st.mean_cycles.tolist(), st.mean_nnz.tolist(),
                                       st.iso, mono)
        return t

    def new_job(q):
        t = cache.get((q.model, q.pattern)) or variant(q.model, q.pattern)
        j = _Job()
        j.q = q
        j.tag = q.tag
        j.arrival = j.last_run = j.token_time = q.arrival
        j.deadline = q.deadline
        j.priority = q.priority
        j.layer = 0
        j.start = -1
        j.pre = pre = list(accumulate(q.cycles, initial=0))
        j.n_layers = len(pre) - 1
        j.iso = pre[-1]
        j.rem_tab, j.next_tab, nnz, j.iso_est, j.mono = t
        j.rem_est = j.rem_tab[0]
        j.next_est = j.next_tab[0]
        j.gamma = 1.0
        if not use_gamma:
            j.gammas = None
        elif mode == "busy":
            j.gammas = _gammas(mode, q.cycles, j.next_tab)
        else:
            j.gammas = _gammas(mode, q.out_nnz, nnz)
        j.token = 0.0
        return j

    cap = len(reqs) + 1 if cap is None else cap
    if kern.key is not None:
        return _run_heap(reqs, kern, new_job, cap)
    return _run_scan(reqs, policy, kern, new_job, cap)


def _finish(j, now):
    q = j.q
    return Completion(q.tag, q.model, q.pattern, q.arrival, q.deadline, now, j.iso, q.priority,
                      j.start)


def _run_heap(reqs, kern, new_job, cap):
    """Static-key policies: waiting jobs in a heap by key; only the running job's key moves."""
    key, use_gamma = kern.key, kern.gamma
    arrive = kern.on_arrival
    heap, done = [], []
    run = rk = None
    now, i, n = 0, 0, len(reqs)
    while True:
        if run is None and not heap:
            if i >= n:
                return done
            now = max(now, reqs[i].arrival)
        while i < n and reqs[i].arrival <= now and len(heap) + (run is not None) < cap:
            j = new_job(reqs[i])
            if arrive is not None:
                arrive(now, j)
            heappush(heap, (*key(j), j))
            i += 1
        if run is None:
            rk = heappop(heap)
            run = rk[-1]
        elif heap and heap[0] < rk:
            rk = heapreplace(heap, rk)
            run = rk[-1]
        pre, lay, end = run.pre, run.layer, run.n_layers
        if run.mono or not heap:       # keeps running (or alone) until the next admission
            k = (bisect_left(pre, reqs[i].arrival - now + pre[lay], lay + 1, end)
                 if i < n and len(heap) + 1 < cap else end)
        else:
            k = lay + 1
        if lay == 0:
            run.start = now
        now += pre[k] - pre[lay]
        run.last_run = now
        if k == end:
            done.append(_finish(run, now))
            run = None
        else:
            run.layer = k
            run.rem_est = run.rem_tab[k]
            run.next_est = run.next_tab[k]
            if use_gamma:
                run.gamma = run.gammas[k]
            rk = (*key(run), run)


# The fast engine's scan policies hand the decisions to the policy's vector kernel while
# more than _VEC_ON requests are active, and take them back below _VEC_OFF (hysteresis).
_VEC_ON, _VEC_OFF = 64, 32


def _job_row(j):
    return {"arrival": j.arrival, "deadline": j.deadline, "priority": j.priority, "tag": j.tag,
            "last_run": j.last_run, "gamma": j.gamma, "token": j.token,
            "token_time": j.token_time, "rem_est": j.rem_est, "next_est": j.next_est,
            "iso_est": j.iso_est, "rem_true": j.iso - j.pre[j.layer], "iso_true": j.iso}


def _run_scan(reqs, policy, kern, new_job, cap):
    """Scan policies: the rule looks at every active job at every decision; a lone job
    runs straight to the next arrival; large active sets go to the vector kernel."""
    pick, stateful, use_gamma = kern.pick, kern.stateful, kern.gamma
    arrive = kern.on_arrival
    vec = policy.vector
    act, done = [], []
    s = None                        # _State of act while the vector kernel decides
    now, i, n = 0, 0, len(reqs)
    while True:
        if not act:
            if i >= n:
                return done
            now = max(now, reqs[i].arrival)
        while i < n and reqs[i].arrival <= now and len(act) < cap:
            j = new_job(reqs[i])
            act.append(j)
            if s is not None:
                s.append([_job_row(j)])
                policy.on_arrival_vector(now, s, len(act) - 1)
            elif arrive is not None:
                arrive(now, j)
            i += 1
        na = len(act)
        if s is not None:
            if na < _VEC_OFF:               # back to the Python rule: policy state to the jobs
                for j, tok, tt in zip(act, s.token.tolist(), s.token_time.tolist()):
                    j.token, j.token_time = tok, int(tt)
                s = None
        elif na > _VEC_ON and vec:
            s = _State(2 * na)
            s.append([_job_row(j) for j in act])
        if s is not None:
            x = policy.select_index(now, s, na)
            r = act[x]
            pre, lay, end = r.pre, r.layer, r.n_layers
            k = lay + 1
            if lay == 0:
                r.start = now
            c = pre[k] - pre[lay]
            now += c
            r.last_run = now
            if k == end:
                s.delete(x)
                del act[x]
                done.append(_finish(r, now))
            else:
                s.last_run[x] = now
                s.rem_true[x] -= c
                r.layer = k
                s.rem_est[x] = r.rem_est = r.rem_tab[k]
                s.next_est[x] = r.next_est = r.next_tab[k]
                if use_gamma:
                    s.gamma[x] = r.gamma = r.gammas[k]
            continue
        if na == 1:
            r = act[0]
            if stateful:
                pick(now, act)
            pre, lay, end = r.pre, r.layer, r.n_layers
            k = (bisect_left(pre, reqs[i].arrival - now + pre[lay], lay + 1, end)
                 if i < n and cap > 1 else end)
        else:
            r = pick(now, act)
            pre, lay, end = r.pre, r.layer, r.n_layers
            k = lay + 1
        if lay == 0:
            r.start = now
        now += pre[k] - pre[lay]
        r.last_run = now
        if k == end:
            act.remove(r)
            done.append(_finish(r, now))
        else:
            r.layer = k
            r.rem_est = r.rem_tab[k]
            r.next_est = r.next_tab[k]
            if use_gamma:
                r.gamma = r.gammas[k]

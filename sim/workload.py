"""Workload (scenario) files: loading, validation, sample split and request generation.

A workload is a TOML file (schema in ``docs/workloads.md``) naming a trace set below
``traces/``, a model mix, arrival rates, SLO multipliers and priorities.
:func:`load_workload` validates every field and every referenced trace and raises
:class:`traces.format.TraceError` naming the file, the field and the offending value.

Split: per variant, a seeded permutation of its samples; the first
``profile_fraction`` of it are *profiling* samples (static LUT statistics), the rest
are *held-out* samples that simulated requests draw from.

Cycles: traces store work counts; the loader computes every sample's per-layer cycles with
the datapath cycle model at the lane count asked for (``load_workload(..., lanes=32)``).

Requests: Poisson arrivals (cycles, seeded), model by weight, pattern uniformly from the
model's list, priority uniformly from its list, sample uniformly from the held-out ones,
``deadline = arrival + round(slo * iso[m, p])`` where ``iso`` is the variant's mean
isolated cycles over its profiling samples (:meth:`StaticTables.deadline`).

Load: :meth:`Workload.capacity_rate` is the rate that keeps the accelerator busy on
average (``clock_hz / E[iso]``); a load ``x`` is the rate ``x * capacity_rate()``.
"""

from __future__ import annotations

import tomllib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtl.accelerator.cycle_model import variant_cycles
from sw_scheduler.formats import DEFAULT_LANES
from sw_scheduler.records import Request
from sw_scheduler.static import StaticTables, variant_stats
from traces.format import TRACE_ROOT, TraceError, Variant, check_fields, load_variant

__all__ = [
    "WORKLOAD_DIRS",
    "ModelSpec",
    "Workload",
    "default_workload",
    "load_workload",
    "resolve_workload",
]

WORKLOAD_DIRS = (TRACE_ROOT / "workloads", TRACE_ROOT / "fixtures" / "workloads")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    patterns: tuple[str, ...]
    weight: float
    priorities: tuple[int, ...]


# TOML field -> (type, required)
_TOP = {
    "name": (str, True), "description": (str, False), "traces": (str, True),
    "clock_hz": (int, True), "num_requests": (int, True), "seed": (int, True),
    "profile_fraction": ((int, float), True), "rates": (list, True),
    "slo_multipliers": (list, True), "models": (list, True),
}
_MODEL = {"name": (str, True), "patterns": (list, True), "weight": ((int, float), True),
          "priorities": (list, True)}


def _positive_list(where, name, v, kind):
    if not v or not all(isinstance(x, kind) and not isinstance(x, bool) and x > 0 for x in v):
        raise TraceError(f"{where}: field {name!r} must be a non-empty list of positive "
                         f"{'integers' if kind is int else 'numbers'}, got {v!r}")


def default_workload() -> str:
    """The real ``arvr`` scenario when its traces are installed, else the fixture mix."""
    real = TRACE_ROOT / "workloads" / "arvr.toml"
    return "arvr" if real.is_file() and (TRACE_ROOT / "data").is_dir() else "fixture_mix"


def resolve_workload(name_or_path) -> Path:
    """``arvr`` -> ``traces/workloads/arvr.toml`` (or the fixtures dir); paths as given."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise TraceError(f"{p}: no such workload file")
        return p
    for d in WORKLOAD_DIRS:
        if (d / f"{name_or_path}.toml").is_file():
            return d / f"{name_or_path}.toml"
    known = sorted(f.stem for d in WORKLOAD_DIRS if d.is_dir() for f in d.glob("*.toml"))
    raise TraceError(f"workload {str(name_or_path)!r}: no such workload file "
                     f"(known: {', '.join(known) or 'none'})")


@dataclass
class Workload:
    """A validated scenario with its traces loaded (see module docstring)."""

    path: Path
    name: str
    description: str
    traces: str
    clock_hz: int
    num_requests: int
    seed: int
    profile_fraction: float
    rates: tuple[float, ...]
    slo_multipliers: tuple[float, ...]
    models: tuple[ModelSpec, ...]
    variants: dict
    lanes: int = DEFAULT_LANES
    cycles: dict = field(default_factory=dict)   # (model, pattern) -> [S, L] at ``lanes``

    def variant(self, model: str, pattern: str) -> Variant:
        return self.variants[(model, pattern)]

    def variant_cycles(self, model: str, pattern: str) -> np.ndarray:
        """``[S, L]`` cycles of a variant's samples at this workload's lane count."""
        return self.cycles[(model, pattern)]

    def split(self, model: str, pattern: str) -> tuple[np.ndarray, np.ndarray]:
        """``(profiling, held_out)`` sample indices of a variant (seeded permutation)."""
        v = self.variant(model, pattern)
        key = zlib.crc32(f"{model}/{pattern}".encode())
        perm = np.random.default_rng([self.seed, key]).permutation(v.n_samples)
        n_prof = round(self.profile_fraction * v.n_samples)
        n_prof = min(max(n_prof, 1), v.n_samples - 1)
        return np.sort(perm[:n_prof]), np.sort(perm[n_prof:])

    def profile_samples(self, model: str, pattern: str) -> np.ndarray:
        return self.split(model, pattern)[0]

    def held_out_samples(self, model: str, pattern: str) -> np.ndarray:
        return self.split(model, pattern)[1]

    def static_tables(self, **kw) -> StaticTables:
        """Static tables from the profiling samples (model ids in workload order)."""
        stats = {}
        for spec in self.models:
            for p in spec.patterns:
                v = self.variant(spec.name, p)
                stats[(spec.name, p)] = variant_stats(
                    v, self.variant_cycles(spec.name, p), self.profile_samples(spec.name, p))
        return StaticTables.build(stats, [m.name for m in self.models], clock_hz=self.clock_hz,
                                  **kw)

    def capacity_rate(self, tables: StaticTables | None = None) -> float:
        """Arrival rate (req/s) that keeps the accelerator 100 % busy on average.

        ``clock_hz / E[iso]``: ``E`` over the model mix weights and a uniform pattern choice
        (as :meth:`requests` draws them), ``iso`` the mean isolated cycles of the static
        tables at this workload's lanes. ``load x capacity_rate()`` is the rate of a load.
        """
        tables = tables or self.static_tables()
        w = sum(m.weight for m in self.models)
        e_iso = sum(m.weight / w * float(np.mean([tables.get(m.name, p).iso
                                                  for p in m.patterns]))
                    for m in self.models)
        return self.clock_hz / e_iso

    def requests(self, *, rate: float | None = None, slo: float | None = None,
                 n: int | None = None, seed: int | None = None,
                 tables: StaticTables | None = None) -> list[Request]:
        """Generate the seeded request stream (sorted by arrival, tags ``0..n-1``).

        Defaults: the first rate and SLO multiplier, ``num_requests`` and ``seed``.
        """
        rate = self.rates[0] if rate is None else float(rate)
        slo = self.slo_multipliers[0] if slo is None else float(slo)
        n = self.num_requests if n is None else int(n)
        seed = self.seed if seed is None else int(seed)
        for name, v in (("rate", rate), ("slo", slo), ("n", n)):
            if not v > 0:
                raise ValueError(f"{self.path}: {name} must be positive, got {v!r}")
        tables = tables or self.static_tables()
        rng = np.random.default_rng([seed, 0x5D5])
        gaps = rng.exponential(self.clock_hz / rate, size=n)
        arrivals = np.round(np.cumsum(gaps)).astype(np.int64)
        w = np.array([m.weight for m in self.models], dtype=float)
        midx = rng.choice(len(self.models), size=n, p=w / w.sum())
        held = {(m.name, p): self.held_out_samples(m.name, p)
                for m in self.models for p in m.patterns}
        out = []
        for tag in range(n):
            spec = self.models[midx[tag]]
            pat = spec.patterns[rng.integers(len(spec.patterns))]
            prio = spec.priorities[rng.integers(len(spec.priorities))]
            h = held[(spec.name, pat)]
            s = int(h[rng.integers(len(h))])
            v = self.variant(spec.name, pat)
            cyc = self.cycles[(spec.name, pat)]
            arr = int(arrivals[tag])
            out.append(Request(
                tag=tag, model=spec.name, pattern=pat, model_id=tables.model_id(spec.name),
                pattern_id=tables.pattern_id(pat), sample=v.samples[s], arrival=arr,
                deadline=tables.deadline(spec.name, pat, arr, slo), priority=int(prio),
                cycles=tuple(int(c) for c in cyc[s]),
                out_nnz=tuple(int(c) for c in v.out_nnz[s])))
        return out


def load_workload(name_or_path, trace_root=None, *, lanes: int = DEFAULT_LANES) -> Workload:
    """Load, validate and attach traces; raise :class:`TraceError` on any defect.

    ``trace_root`` overrides the directory the ``traces`` field is relative to
    (default: the ``traces`` package directory); ``lanes`` is the datapath lane count the
    cycles are computed for (each trace must store work counts for it).
    """
    path = resolve_workload(name_or_path)
    f = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise TraceError(f"{f}: not valid TOML ({e})") from None
    except UnicodeDecodeError as e:
        raise TraceError(f"{f}: not UTF-8 text ({e})") from None
    check_fields(f, doc, _TOP, strict=True)
    for k in ("clock_hz", "num_requests"):
        if doc[k] <= 0:
            raise TraceError(f"{f}: field {k!r} must be positive, got {doc[k]!r}")
    if not 0 < doc["profile_fraction"] < 1:
        raise TraceError(f"{f}: field 'profile_fraction' must be in (0, 1), "
                         f"got {doc['profile_fraction']!r}")
    for k in ("rates", "slo_multipliers"):
        _positive_list(f, k, doc[k], (int, float))
    if not doc["models"]:
        raise TraceError(f"{f}: field 'models' is empty")
    root = Path(trace_root) if trace_root is not None else TRACE_ROOT
    tdir = root / doc["traces"]
    if not tdir.is_dir():
        raise TraceError(f"{f}: field 'traces' = {doc['traces']!r}: no trace directory {tdir}")
    models, variants, seen = [], {}, set()
    for i, m in enumerate(doc["models"]):
        where = f"{f}: models[{i}]"
        if not isinstance(m, dict):
            raise TraceError(f"{where}: expected a table, got {m!r}")
        check_fields(where, m, _MODEL, strict=True)
        name = m["name"]
        if name in seen:
            raise TraceError(f"{where}: field 'name' = {name!r} is listed twice")
        seen.add(name)
        if not (tdir / name).is_dir():
            known = sorted(d.name for d in tdir.iterdir() if d.is_dir())
            raise TraceError(f"{where}: field 'name' = {name!r}: unknown model in trace set "
                             f"{doc['traces']!r} (known: {', '.join(known)})")
        if m["weight"] <= 0:
            raise TraceError(f"{where}: field 'weight' must be positive, got {m['weight']!r}")
        pats = m["patterns"]
        if not pats or not all(isinstance(p, str) for p in pats) or len(set(pats)) != len(pats):
            raise TraceError(f"{where}: field 'patterns' must be a non-empty list of unique "
                             f"strings, got {pats!r}")
        _positive_list(where, "priorities", m["priorities"], int)
        for p in pats:
            vp = tdir / name / f"{p}.npz"
            if not vp.is_file():
                known = sorted(x.stem for x in (tdir / name).glob("*.npz"))
                raise TraceError(f"{where}: field 'patterns' value {p!r}: unknown pattern of "
                                 f"model {name!r} (known: {', '.join(known)})")
            v = load_variant(vp)
            if (v.model, v.pattern) != (name, p):
                raise TraceError(f"{vp}: fields 'model'/'pattern' = {v.model!r}/{v.pattern!r} "
                                 f"do not match {name!r}/{p!r}")
            if v.n_samples < 2:
                raise TraceError(f"{vp}: field 'samples' has {v.n_samples} sample(s); need "
                                 "at least 2 (profiling + held-out)")
            variants[(name, p)] = v
        models.append(ModelSpec(name=name, patterns=tuple(pats), weight=float(m["weight"]),
                                priorities=tuple(m["priorities"])))
    return Workload(path=path, name=doc["name"], description=doc.get("description", ""),
                    traces=doc["traces"], clock_hz=doc["clock_hz"],
                    num_requests=doc["num_requests"], seed=doc["seed"],
                    profile_fraction=float(doc["profile_fraction"]),
                    rates=tuple(float(r) for r in doc["rates"]),
                    slo_multipliers=tuple(float(s) for s in doc["slo_multipliers"]),
                    models=tuple(models), variants=variants, lanes=lanes,
                    cycles={k: variant_cycles(v, lanes) for k, v in variants.items()})

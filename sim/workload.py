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

import math
import re
import tomllib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtl.accelerator.cycle_model import variant_cycles
from sw_scheduler.formats import DEFAULT_LANES, PRIORITY_LEVELS
from sw_scheduler.records import Request
from sw_scheduler.static import StaticTables, variant_stats
from traces.format import TRACE_ROOT, TraceError, Variant, check_fields, load_variant

from .protocols import PAPER_SAMPLES, Protocol, get_protocol

__all__ = [
    "LIMITS",
    "WORKLOAD_DIRS",
    "ModelSpec",
    "Workload",
    "check_value",
    "default_workload",
    "load_workload",
    "resolve_workload",
]

WORKLOAD_DIRS = (TRACE_ROOT / "workloads", TRACE_ROOT / "fixtures" / "workloads")
# Finite ranges the simulators honour (checked at load time and on the command line):
# field -> (min, max), both inclusive.
LIMITS = {
    "clock_hz": (1_000, 10**10),
    "num_requests": (1, 10**6),
    "seed": (0, 2**63 - 1),
    "rate": (1e-3, 1e7),            # requests per second
    "slo": (1e-2, 1e4),             # SLO multiplier
    "weight": (1e-9, 1e9),
    "load": (1e-3, 100.0),          # fraction of the accelerator's capacity
}
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_HORIZON = 2**60                 # cycles: arrivals must stay far inside int64


def check_value(where: str, field: str, v, kind=None) -> None:
    """TraceError naming ``where``, ``field`` and ``v`` unless ``v`` is a finite number in
    ``LIMITS[field]`` (an int if ``kind is int``); a bool is never a number."""
    lo, hi = LIMITS[field]
    ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
          and lo <= v <= hi and (kind is not int or isinstance(v, int)))
    if not ok:
        what = "an integer" if kind is int else "a finite number"
        raise TraceError(f"{where}: field {field!r} must be {what} in [{lo:g}, {hi:g}], "
                         f"got {v!r}")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    patterns: tuple[str, ...]
    weight: float
    priorities: tuple[int, ...]
    damaged: tuple[str, ...] = ()    # patterns whose outputs drift too far from dense


# TOML field -> (type, required)
_TOP = {
    "name": (str, True), "description": (str, False), "traces": (str, True),
    "clock_hz": (int, True), "num_requests": (int, True), "seed": (int, True),
    "profile_fraction": ((int, float), True), "rates": (list, True),
    "slo_multipliers": (list, True), "models": (list, True),
}
_MODEL = {"name": (str, True), "patterns": (list, True), "weight": ((int, float), True),
          "priorities": (list, True), "damaged": (list, False)}


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
    protocol: str = "fair"                       # sim.protocols: split, deadlines, tables
    shape_buckets: int = 0          # > 1: static entries per input-size bucket (host-known)

    @property
    def rules(self) -> Protocol:
        return get_protocol(self.protocol)

    def variant(self, model: str, pattern: str) -> Variant:
        return self.variants[(model, pattern)]

    def variant_cycles(self, model: str, pattern: str) -> np.ndarray:
        """``[S, L]`` cycles of a variant's samples at this workload's lane count."""
        return self.cycles[(model, pattern)]

    def split(self, model: str, pattern: str) -> tuple[np.ndarray, np.ndarray]:
        """``(profiling, held_out)`` sample indices of a variant.

        ``fair``: a seeded permutation split by ``profile_fraction``; ``paper``: profiling
        on every sample, requests from the first ``PAPER_SAMPLES`` samples.
        """
        v = self.variant(model, pattern)
        if not self.rules.split_samples:
            return np.arange(v.n_samples), np.arange(min(PAPER_SAMPLES, v.n_samples))
        key = zlib.crc32(f"{model}/{pattern}".encode())
        perm = np.random.default_rng([self.seed, key]).permutation(v.n_samples)
        n_prof = round(self.profile_fraction * v.n_samples)
        n_prof = min(max(n_prof, 1), v.n_samples - 1)
        return np.sort(perm[:n_prof]), np.sort(perm[n_prof:])

    def profile_samples(self, model: str, pattern: str) -> np.ndarray:
        return self.split(model, pattern)[0]

    def held_out_samples(self, model: str, pattern: str) -> np.ndarray:
        return self.split(model, pattern)[1]

    def shape_keys(self, model: str, pattern: str) -> np.ndarray | None:
        """Static-table key of every sample when ``shape_buckets > 1`` and the variant stores
        the input size a host knows at arrival (``shape``): ``"<pattern>@<bucket>"``, buckets
        by quantiles of the profiling samples' sizes; None otherwise (one key per variant)."""
        v = self.variant(model, pattern)
        if self.shape_buckets < 2 or v.shape is None:
            return None
        prof = v.shape[self.profile_samples(model, pattern)]
        q = np.arange(1, self.shape_buckets) / self.shape_buckets
        edges = np.unique(np.quantile(prof, q))
        b = np.searchsorted(edges, v.shape, side="right")
        return np.array([f"{pattern}@{i}" for i in b])

    def static_tables(self, **kw) -> StaticTables:
        """Static tables from the profiling samples (model ids in workload order).

        With shape buckets, a variant also gets one entry per input-size bucket (from that
        bucket's profiling samples); the variant's own entry stays (deadlines use it).
        """
        stats = {}
        for spec in self.models:
            for p in spec.patterns:
                v = self.variant(spec.name, p)
                cyc, prof = self.variant_cycles(spec.name, p), self.profile_samples(spec.name, p)
                stats[(spec.name, p)] = variant_stats(v, cyc, prof)
                keys = self.shape_keys(spec.name, p)
                if keys is not None:
                    for k in sorted(set(keys[prof])):
                        stats[(spec.name, k)] = variant_stats(v, cyc, prof[keys[prof] == k])
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
        check_value(f"{self.path}", "rate", rate)
        check_value(f"{self.path}", "slo", slo)
        check_value(f"{self.path}", "num_requests", n, int)
        check_value(f"{self.path}", "seed", seed, int)
        if n * self.clock_hz / rate > MAX_HORIZON:
            raise TraceError(f"{self.path}: rate {rate!r}/s for {n} requests at "
                             f"{self.clock_hz} Hz spans more than 2**60 cycles")
        tables = tables or self.static_tables()
        rng = np.random.default_rng([seed, 0x5D5])
        gaps = rng.exponential(self.clock_hz / rate, size=n)
        arrivals = np.round(np.cumsum(gaps)).astype(np.int64)
        w = np.array([m.weight for m in self.models], dtype=float)
        midx = rng.choice(len(self.models), size=n, p=w / w.sum())
        held = {(m.name, p): self.held_out_samples(m.name, p)
                for m in self.models for p in m.patterns}
        keys = {(m.name, p): self.shape_keys(m.name, p) for m in self.models for p in m.patterns}
        if self.rules.slo_per_variant:
            def deadline(m, p, arr):
                return tables.deadline(m, p, arr, slo)
        else:
            model_iso = {m.name: tables.model_iso(m.name, m.patterns) for m in self.models}

            def deadline(m, p, arr):
                return int(arr + round(slo * model_iso[m]))
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
            k = keys[(spec.name, pat)]
            key = pat if k is None or (spec.name, k[s]) not in tables.stats else str(k[s])
            out.append(Request(
                tag=tag, model=spec.name, pattern=key, model_id=tables.model_id(spec.name),
                pattern_id=tables.pattern_id(key), sample=v.samples[s], arrival=arr,
                deadline=deadline(spec.name, pat, arr), priority=int(prio),
                cycles=tuple(int(c) for c in cyc[s]),
                out_nnz=tuple(int(c) for c in v.out_nnz[s])))
        return out


def load_workload(name_or_path, trace_root=None, *, lanes: int = DEFAULT_LANES,
                  protocol: str = "fair", shape_buckets: int = 0) -> Workload:
    """Load, validate and attach traces; raise :class:`TraceError` on any defect.

    ``trace_root`` overrides the directory the ``traces`` field is relative to
    (default: the ``traces`` package directory); ``lanes`` is the datapath lane count the
    cycles are computed for (each trace must store work counts for it); ``protocol`` the
    comparison rules (:mod:`sim.protocols`); ``shape_buckets`` > 1 gives variants that store
    the input size known at arrival one static entry per size bucket (:meth:`shape_keys`).
    """
    get_protocol(protocol)
    if not isinstance(shape_buckets, int) or not 0 <= shape_buckets <= 64:
        raise TraceError(f"shape_buckets must be an int in 0..64, got {shape_buckets!r}")
    path = resolve_workload(name_or_path)
    f = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise TraceError(f"{f}: not valid TOML ({e})") from None
    except UnicodeDecodeError as e:
        raise TraceError(f"{f}: not UTF-8 text ({e})") from None
    check_fields(f, doc, _TOP, strict=True)
    if not _NAME_RE.fullmatch(doc["name"]):
        raise TraceError(f"{f}: field 'name' = {doc['name']!r} must be letters, digits, "
                         "'_', '-', '.' (it names the output folder)")
    for k in ("clock_hz", "num_requests", "seed"):
        check_value(f, k, doc[k], int)
    if not 0 < doc["profile_fraction"] < 1:
        raise TraceError(f"{f}: field 'profile_fraction' must be in (0, 1), "
                         f"got {doc['profile_fraction']!r}")
    for k, lim in (("rates", "rate"), ("slo_multipliers", "slo")):
        _positive_list(f, k, doc[k], (int, float))
        for x in doc[k]:
            check_value(f"{f}: field {k!r}", lim, x)
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
        check_value(where, "weight", m["weight"])
        pats = m["patterns"]
        if not pats or not all(isinstance(p, str) for p in pats) or len(set(pats)) != len(pats):
            raise TraceError(f"{where}: field 'patterns' must be a non-empty list of unique "
                             f"strings, got {pats!r}")
        _positive_list(where, "priorities", m["priorities"], int)
        bad = [x for x in m["priorities"] if x not in PRIORITY_LEVELS]
        if bad:
            raise TraceError(f"{where}: field 'priorities' value {bad[0]!r} is not one of the "
                             f"levels the hardware encodes {PRIORITY_LEVELS}")
        damaged = m.get("damaged", [])
        if not all(isinstance(p, str) and p in pats for p in damaged):
            raise TraceError(f"{where}: field 'damaged' = {damaged!r} must be a subset of "
                             f"'patterns' {pats!r}")
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
                                priorities=tuple(m["priorities"]), damaged=tuple(damaged)))
    return Workload(path=path, name=doc["name"], description=doc.get("description", ""),
                    traces=doc["traces"], clock_hz=doc["clock_hz"],
                    num_requests=doc["num_requests"], seed=doc["seed"],
                    profile_fraction=float(doc["profile_fraction"]),
                    rates=tuple(float(r) for r in doc["rates"]),
                    slo_multipliers=tuple(float(s) for s in doc["slo_multipliers"]),
                    models=tuple(models), variants=variants, lanes=lanes, protocol=protocol,
                    shape_buckets=shape_buckets,
                    cycles={k: variant_cycles(v, lanes) for k, v in variants.items()})

"""Static level of Sparse-DySta: profiling statistics -> float tables -> fixed-point LUTs.

From the *profiling* samples of every (model, pattern) variant of a workload, per layer
``l``: mean cycles, the suffix sum ``REM[l] = sum(mean_cycles[l:])`` (``REM[L] = 0``),
the mean output non-zero count and its reciprocal ``INV_NNZ`` (0 when the mean is 0:
"no information", gamma skips that layer), and per variant the mean isolated latency
``iso`` with ``KINV_ISO = kappa / iso``, ``kappa = kappa_s * clock_hz`` cycles.

:class:`StaticTables` holds the float values (used by the float reference schedulers and
the host); :meth:`StaticTables.to_lut_images` quantises them with the formats of
:mod:`sw_scheduler.formats` (saturations counted and warned once per field) into a
:class:`~sw_scheduler.lut_image.LutImages`. Model ids and pattern ids are assigned in
workload order (patterns: in order of first appearance).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import formats as F
from .lut_image import INV_FIELDS, LutImages

__all__ = ["StaticTables", "VariantStats", "variant_stats"]


@dataclass(frozen=True)
class VariantStats:
    """Float statistics of one (model, pattern) variant over its profiling samples.

    Attributes
    ----------
    mean_cycles : ndarray ``[L]``
    rem : ndarray ``[L+1]``
        Suffix sums of ``mean_cycles``; ``rem[L] == 0``.
    mean_nnz : ndarray ``[L]``
        Mean output non-zeros per layer.
    iso : float
        Mean isolated (end-to-end) cycles.
    n_profile : int
        Number of profiling samples used.
    """

    model: str
    pattern: str
    mean_cycles: np.ndarray
    rem: np.ndarray
    mean_nnz: np.ndarray
    iso: float
    n_profile: int

    @property
    def n_layers(self) -> int:
        return len(self.mean_cycles)

    @property
    def inv_nnz(self) -> np.ndarray:
        """``1 / mean_nnz`` per layer, 0 where the mean is 0 (no information)."""
        out = np.zeros_like(self.mean_nnz, dtype=float)
        nz = self.mean_nnz > 0
        out[nz] = 1.0 / self.mean_nnz[nz]
        return out


def variant_stats(variant, cycles, samples) -> VariantStats:
    """Statistics of ``variant`` (a :class:`traces.format.Variant`) over sample indices.

    ``cycles`` is the variant's ``[S, L]`` cycle array on the configuration simulated (the
    datapath cycle model applied to the trace's work counts).
    """
    idx = np.asarray(samples, dtype=int)
    if idx.size == 0:
        raise ValueError(f"{variant.path or variant.name}: no profiling samples for "
                         f"{variant.name}")
    cyc = np.asarray(cycles)[idx].astype(float)
    mean_cycles = cyc.mean(axis=0)
    rem = np.concatenate([np.cumsum(mean_cycles[::-1])[::-1], [0.0]])
    return VariantStats(model=variant.model, pattern=variant.pattern,
                        mean_cycles=mean_cycles, rem=rem,
                        mean_nnz=variant.out_nnz[idx].astype(float).mean(axis=0),
                        iso=float(cyc.sum(axis=1).mean()), n_profile=int(idx.size))


@dataclass
class StaticTables:
    """Float static tables of a workload plus the scheduler constants.

    Attributes
    ----------
    models, patterns : list[str]
        Names of model ids and pattern ids (workload order).
    stats : dict
        ``(model, pattern) -> VariantStats`` for every variant of the workload.
    clock_hz : int
    beta : float
    kappa_s : float
        Penalty time unit in seconds; ``kappa_cycles = round(kappa_s * clock_hz)``.
    """

    models: list
    patterns: list
    stats: dict
    clock_hz: int = F.DEFAULT_CLOCK_HZ
    beta: float = F.DEFAULT_BETA
    kappa_s: float = F.DEFAULT_KAPPA_S
    model_patterns: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.model_patterns:
            mp = {}
            for (m, p) in self.stats:
                mp.setdefault(m, []).append(p)
            self.model_patterns = mp

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def build(cls, stats: dict, models, *, clock_hz: int = F.DEFAULT_CLOCK_HZ,
              beta: float = F.DEFAULT_BETA, kappa_s: float = F.DEFAULT_KAPPA_S) -> StaticTables:
        """Tables from ``{(model, pattern): VariantStats}`` in insertion order.

        Model ids follow ``models``; pattern ids the order of first appearance.
        """
        patterns, mp = [], {m: [] for m in models}
        for (m, p) in stats:
            mp[m].append(p)
            if p not in patterns:
                patterns.append(p)
        return cls(models=list(models), patterns=patterns, stats=dict(stats),
                   clock_hz=clock_hz, beta=beta, kappa_s=kappa_s, model_patterns=mp)

    # ---- lookups ---------------------------------------------------------------------------
    @property
    def kappa_cycles(self) -> int:
        return round(self.kappa_s * self.clock_hz)

    def model_id(self, model: str) -> int:
        return self.models.index(model)

    def pattern_id(self, pattern: str) -> int:
        return self.patterns.index(pattern)

    def get(self, model: str, pattern: str) -> VariantStats:
        try:
            return self.stats[(model, pattern)]
        except KeyError:
            raise KeyError(f"no static statistics for variant {model}/{pattern}") from None

    def deadline(self, model: str, pattern: str, arrival: int, slo: float) -> int:
        """Host side: ``arrival + round(slo * iso[m, p])`` in cycles."""
        return int(arrival + round(slo * self.get(model, pattern).iso))

    def model_iso(self, model: str, patterns=None) -> float:
        """Mean isolated cycles of ``model`` over ``patterns`` (default: all its entries) --
        the pattern-unaware SLO target."""
        pats = self.model_patterns[model] if patterns is None else patterns
        return float(np.mean([self.get(model, p).iso for p in pats]))

    def initial_estimate(self, model: str, pattern: str, arrival: int,
                         slo: float) -> tuple[int, float]:
        """Host side at arrival: ``(deadline, pattern-aware REM[m, p, 0])``."""
        return self.deadline(model, pattern, arrival, slo), float(self.get(model, pattern).rem[0])

    def pattern_averaged(self) -> StaticTables:
        """Tables without static-pattern knowledge: each model's variants averaged.

        Every pattern of a model gets the element-wise mean over that model's patterns
        of ``mean_cycles``, ``rem``, ``mean_nnz`` and ``iso`` (all must have the same layer
        count).
        """
        stats = {}
        for m, pats in self.model_patterns.items():
            vs = [self.stats[(m, p)] for p in pats]
            if len({v.n_layers for v in vs}) != 1:
                raise ValueError(f"model {m!r}: patterns {pats} have different layer counts; "
                                 "cannot average over patterns")
            avg = {k: np.mean([getattr(v, k) for v in vs], axis=0)
                   for k in ("mean_cycles", "rem", "mean_nnz")}
            iso = float(np.mean([v.iso for v in vs]))
            for p in pats:
                stats[(m, p)] = VariantStats(model=m, pattern=p, iso=iso,
                                             n_profile=sum(v.n_profile for v in vs), **avg)
        return StaticTables(models=self.models, patterns=self.patterns, stats=stats,
                            clock_hz=self.clock_hz, beta=self.beta, kappa_s=self.kappa_s,
                            model_patterns=self.model_patterns)

    # ---- quantisation ----------------------------------------------------------------------
    def lut_layout(self) -> F.LutLayout:
        max_layers = max(s.n_layers for s in self.stats.values())
        return F.LutLayout.fitting(len(self.models), len(self.patterns), max_layers)

    def to_lut_images(self, layout: F.LutLayout | None = None, *,
                      inv_field: str = "nnz") -> LutImages:
        """Quantise into packed LUT words (unused entries are 0).

        ``inv_field`` picks what the LAYER words' ``inv_nnz`` field holds: ``"nnz"``
        (``1 / mean output non-zeros``, the ``mean``/``last`` predictors) or ``"busy"``
        (``INV_BUSY``, the busy-cycle predictor; see :mod:`sw_scheduler.formats`).
        Saturated values are counted per field in ``LutImages.saturated`` and reported
        with one :class:`~sw_scheduler.formats.FixedPointWarning` per field.
        """
        if inv_field not in INV_FIELDS:
            raise ValueError(f"inv_field must be one of {INV_FIELDS}, got {inv_field!r}")
        layout = layout or self.lut_layout()
        sat = {"rem": 0, "inv_nnz": 0, "kinv_iso": 0, "n_layers": 0, "beta": 0}
        variant = [0] * layout.variant_depth
        layer = [0] * layout.layer_depth
        n_layers_max = F.VARIANT_ENTRY["n_layers"].shape.width

        def q(fmt, x, key):
            code, s = fmt.quantize(float(x))
            sat[key] += s
            return code

        for (m, p), st in self.stats.items():
            mi, pi = self.model_id(m), self.pattern_id(p)
            if st.n_layers + 1 > layout.max_layers:
                raise ValueError(f"variant {m}/{p}: {st.n_layers} layers (+1 retire entry) "
                                 f"do not fit layout {layout}")
            n_l = st.n_layers
            if n_l >= 1 << n_layers_max:
                sat["n_layers"] += 1
                n_l = (1 << n_layers_max) - 1
            variant[layout.variant_addr(mi, pi)] = F.VARIANT_ENTRY.const({
                "n_layers": n_l,
                "kinv_iso": q(F.KINV_ISO, self.kappa_cycles / st.iso if st.iso > 0
                              else float("inf"), "kinv_iso"),
            }).as_bits()
            if inv_field == "busy":
                invs = [F.inv_busy_code(x) for x in np.cumsum(st.mean_cycles)]
            else:
                invs = [q(F.INV_NNZ, x, "inv_nnz") for x in st.inv_nnz]
            for j in range(st.n_layers + 1):
                layer[layout.layer_addr(mi, pi, j)] = F.LAYER_ENTRY.const({
                    "rem": q(F.REM, st.rem[j], "rem"),
                    "inv_nnz": invs[j] if j < st.n_layers else 0,
                }).as_bits()
        beta = q(F.BETA, self.beta, "beta")
        for k, n in sat.items():
            if n:
                warnings.warn(f"static LUTs: {n} value(s) of field {k!r} saturated",
                              F.FixedPointWarning, stacklevel=2)
        return LutImages(layout=layout, variant=variant, layer=layer, models=list(self.models),
                         patterns=list(self.patterns), beta=beta,
                         kappa_cycles=self.kappa_cycles, clock_hz=self.clock_hz,
                         iso_cycles={f"{m}/{p}": st.iso for (m, p), st in self.stats.items()},
                         saturated=sat, inv_field=inv_field)

    def write_luts(self, directory) -> LutImages:
        """Quantise and write ``variant.hex``, ``layer.hex``, ``manifest.json``."""
        img = self.to_lut_images()
        img.write(directory)
        return img

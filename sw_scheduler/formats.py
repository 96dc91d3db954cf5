"""Fixed-point formats, field widths and LUT layouts: the single definition.

Everything that the hardware scheduler, the bit-exact model, the LUT writer and the
testbenches agree on lives here and is imported, never re-typed. Time is in
accelerator cycles; all time arithmetic is modulo ``2**TIME_WIDTH`` and differences
are taken wrap-safe (see :func:`time_diff`), which supports a horizon of
``2**(TIME_WIDTH-1)`` cycles between any two times that are compared
(10.7 s at 200 MHz with 32 bits).

Score (docs/design.md), in these formats, for request ``i`` at cycle ``t``::

    ratio_j   = (measured_nnz_j * INV_NNZ[m,p,j]) >> (INV_NNZ.frac - GAMMA.frac)   # GAMMA
    gamma_i   = running mean (sum * RECIP[n] >> RECIP.frac) or last ratio;   1.0 at start
    rem_i     = (gamma_i * REM[m,p,l_i]) >> GAMMA.frac                             # cycles
    urgency_i = clamp(time_diff(deadline_i, t) - rem_i, 0, TIME_MAX)
    pen_i     = ((t - last_run_i) * KINV_ISO[m,p]) >> KINV_ISO.frac               # = kappa*wait/iso
    pen_i     = (pen_i * RECIP[n_active]) >> RECIP.frac
    score_i   = rem_i + (BETA * (urgency_i + pen_i)) >> BETA.frac                 # SCORE bits

Every intermediate saturates at its format's maximum. ``INV_NNZ == 0`` marks a layer
whose mean output non-zero count is zero: it does not update gamma.

Busy-cycle predictor (``SchedulerConfig.predictor == "busy"``): the scheduler measures each
layer's cycles itself (response minus command handshake) and the LAYER word's ``inv_nnz``
field holds ``INV_BUSY[m,p,j] = 1 / sum(mean_cycles[0..j])`` instead (``LutImages.inv_field``
says which)::

    busy_i  = busy_i + measured_cycles_j                     # BUSY_SUM (row's gamma_sum)
    gamma_i = (busy_i * INV_BUSY[m,p,j]) >> (INV_BUSY.frac - GAMMA.frac)  # ratio of sums

``INV_BUSY == 0`` (a prefix of mean cycles too short for the format, < 2**12 cycles) leaves
gamma unchanged; the sum still counts the layer.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from amaranth.hdl import unsigned
from amaranth.lib import data

__all__ = [
    "BETA",
    "BUSY_SUM",
    "DEFAULT_BETA",
    "DEFAULT_CLOCK_HZ",
    "DEFAULT_KAPPA_S",
    "GAMMA",
    "GAMMA_SUM",
    "INV_BUSY",
    "INV_NNZ",
    "KINV_ISO",
    "LAYER_ENTRY",
    "NNZ",
    "PRIORITY_LEVELS",
    "RECIP",
    "REM",
    "SCORE_WIDTH",
    "TAG_WIDTH",
    "TIME_MAX",
    "TIME_WIDTH",
    "VARIANT_ENTRY",
    "FixedPointWarning",
    "LutLayout",
    "QFormat",
    "gamma_sum_format",
    "inv_busy_code",
    "inv_field",
    "quantize_warn",
    "recip_table",
    "time_diff",
]


class FixedPointWarning(UserWarning):
    """A value did not fit its fixed-point field and was saturated."""


@dataclass(frozen=True)
class QFormat:
    """An unsigned fixed-point format UQ(width-frac).frac.

    Parameters
    ----------
    name : str
        Field name used in messages and manifests.
    width : int
        Total bits.
    frac : int
        Fraction bits.
    """

    name: str
    width: int
    frac: int

    @property
    def max_int(self) -> int:
        return (1 << self.width) - 1

    @property
    def shape(self):
        return unsigned(self.width)

    def quantize(self, x: float) -> tuple[int, bool]:
        """Round ``x`` to the nearest code; return ``(code, saturated)``."""
        if not math.isfinite(x) or x < 0:
            if x < 0 or math.isnan(x):
                raise ValueError(f"{self.name}: value {x!r} is negative or NaN "
                                 "(unsigned format)")
            return self.max_int, True
        code = round(x * (1 << self.frac))
        if code > self.max_int:
            return self.max_int, True
        return code, False

    def saturate(self, code: int) -> int:
        """Clamp an integer code to ``[0, max_int]``."""
        return min(max(code, 0), self.max_int)

    def to_float(self, code: int) -> float:
        return code / (1 << self.frac)

    def describe(self) -> dict:
        return {"width": self.width, "frac": self.frac,
                "q": f"UQ{self.width - self.frac}.{self.frac}"}


# ---- time -------------------------------------------------------------------------------------
TIME_WIDTH = 32
TIME_MAX = (1 << TIME_WIDTH) - 1
DEFAULT_CLOCK_HZ = 200_000_000   # nominal accelerator clock (scenarios may set clock_hz)

# ---- default build (what `make sim` / `make verilog` use unless SLOTS= / LANES= say) ----------
# Scheduler task-table entries: the smallest power of two with which the table-bounded
# reference Dysta equals the unbounded one at every shipped (rate, SLO) point over 20,000
# requests (peak 23 requests in the system: mobile at 4.3 req/s; 16 entries already change
# its violation rate); docs/scheduler_rtl.md "Queue capacity".
DEFAULT_SLOTS = 32
DEFAULT_LANES = 16               # datapath lanes


def time_diff(a: int, b: int, width: int = TIME_WIDTH) -> int:
    """Signed ``a - b`` of two wrapping ``width``-bit cycle counts (two's complement)."""
    d = (a - b) & ((1 << width) - 1)
    return d - (1 << width) if d >> (width - 1) else d


# ---- request fields ---------------------------------------------------------------------------
TAG_WIDTH = 16
PRIORITY_LEVELS = (1, 3, 9)  # PREMA's priority levels; the hardware carries the index

# ---- scheduler arithmetic ---------------------------------------------------------------------
NNZ = QFormat("nnz", 32, 0)            # non-zero count reported by the NPU per layer
REM = QFormat("rem", 32, 0)            # remaining mean cycles from layer l to the end
INV_NNZ = QFormat("inv_nnz", 32, 31)   # 1 / mean output non-zeros of a layer (1.0 fits)
GAMMA = QFormat("gamma", 16, 12)       # latency correction factor, 1.0 = 4096
GAMMA_SUM = QFormat("gamma_sum", 24, 12)  # running sum of ratios (<= 256 layers x 16.0)
INV_BUSY = QFormat("inv_busy", 32, 44)  # 1 / prefix sum of mean cycles (>= 2**12 fits)
BUSY_SUM = QFormat("busy_sum", 32, 0)   # measured cycles of the executed layers
RECIP = QFormat("recip", 17, 16)       # 1/n for n in 1..RECIP_DEPTH-1, RECIP[0] = 0
KINV_ISO = QFormat("kinv_iso", 32, 16)  # kappa / mean isolated latency of (model, pattern)
BETA = QFormat("beta", 24, 16)         # weight of urgency + penalty
SCORE_WIDTH = 40                       # saturating score

DEFAULT_BETA = 0.01       # the artifact's beta
DEFAULT_KAPPA_S = 1.0     # penalty time unit: one second, as the artifact mixes s and ratios


def inv_busy_code(prefix_cycles: float) -> int:
    """``INV_BUSY`` code of a prefix of mean cycles; 0 (no gamma update) where the
    reciprocal does not fit the format (prefix shorter than ``2**(frac - width)``)."""
    if not prefix_cycles > 0:
        return 0
    code, sat = INV_BUSY.quantize(1.0 / prefix_cycles)
    return 0 if sat else code


def inv_field(predictor: str) -> str:
    """What a predictor's LUT images hold in the LAYER words' ``inv_nnz`` field: INV_BUSY
    (``"busy"``) or INV_NNZ (``"nnz"``, the ``mean``/``last`` predictors)."""
    return "busy" if predictor == "busy" else "nnz"


def gamma_sum_format(predictor: str) -> QFormat:
    """The predictor's running sum in the task table: busy cycles or nnz ratios."""
    return BUSY_SUM if predictor == "busy" else GAMMA_SUM


def recip_table(depth: int) -> list[int]:
    """RECIP codes for n = 0..depth-1 (entry 0 is unused and 0)."""
    return [0] + [RECIP.quantize(1.0 / n)[0] for n in range(1, depth)]


# ---- LUT layouts ------------------------------------------------------------------------------
LAYER_ENTRY = data.StructLayout({
    "rem": REM.shape,          # suffix sum of mean cycles, layer l .. end
    "inv_nnz": INV_NNZ.shape,  # reciprocal of mean output non-zeros of layer l (or INV_BUSY)
})
VARIANT_ENTRY = data.StructLayout({
    "n_layers": unsigned(16),    # layers of this (model, pattern); 0 = unused entry
    "kinv_iso": KINV_ISO.shape,  # kappa / mean isolated cycles
})


@dataclass(frozen=True)
class LutLayout:
    """Address layout of the scheduler's lookup tables.

    ``VARIANT`` LUT: address ``(model << pattern_bits) | pattern``, one
    :data:`VARIANT_ENTRY` each. ``LAYER`` LUT: address
    ``(((model << pattern_bits) | pattern) << layer_bits) | layer``, one
    :data:`LAYER_ENTRY` each. The static scheduler picks the smallest bit counts that
    fit a workload and writes them into the manifest; the RTL is built from the same
    object.
    """

    model_bits: int
    pattern_bits: int
    layer_bits: int

    def __post_init__(self):
        for f in ("model_bits", "pattern_bits", "layer_bits"):
            v = getattr(self, f)
            if not isinstance(v, int) or not 0 <= v <= 12:
                raise ValueError(f"LutLayout.{f} must be an int in 0..12, got {v!r}")

    @property
    def variant_depth(self) -> int:
        return 1 << (self.model_bits + self.pattern_bits)

    @property
    def layer_depth(self) -> int:
        return 1 << (self.model_bits + self.pattern_bits + self.layer_bits)

    @property
    def max_layers(self) -> int:
        return 1 << self.layer_bits

    def variant_addr(self, model: int, pattern: int) -> int:
        if not (0 <= model < 1 << self.model_bits and 0 <= pattern < 1 << self.pattern_bits):
            raise ValueError(f"(model={model}, pattern={pattern}) outside LUT layout {self}")
        return (model << self.pattern_bits) | pattern

    def layer_addr(self, model: int, pattern: int, layer: int) -> int:
        if not 0 <= layer < self.max_layers:
            raise ValueError(f"layer={layer} outside LUT layout {self}")
        return (self.variant_addr(model, pattern) << self.layer_bits) | layer

    @classmethod
    def fitting(cls, n_models: int, n_patterns: int, n_layers: int) -> LutLayout:
        """Smallest layout holding the given counts (each at least one bit of room)."""
        def bits(n):
            return max(1, (max(n, 1) - 1).bit_length())
        # +1 layer: REM at layer == n_layers is read (it is 0) when a request retires.
        return cls(bits(n_models), bits(n_patterns), bits(n_layers + 1))

    def describe(self) -> dict:
        return {"model_bits": self.model_bits, "pattern_bits": self.pattern_bits,
                "layer_bits": self.layer_bits}


def quantize_warn(fmt: QFormat, x: float, where: str) -> int:
    """Quantise and warn (with ``where``) on saturation."""
    code, sat = fmt.quantize(x)
    if sat:
        warnings.warn(f"{where}: {fmt.name}={x!r} saturated to {fmt.to_float(code)!r}",
                      FixedPointWarning, stacklevel=2)
    return code

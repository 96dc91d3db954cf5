"""Build parameters and port layouts of the Dysta dynamic scheduler: the single definition.

:class:`SchedulerConfig` derives every width from :class:`~sw_scheduler.formats.LutLayout`
and the fixed-point formats of :mod:`sw_scheduler.formats`; the RTL
(:mod:`rtl.scheduler.top`), the bit-exact model (:mod:`sw_scheduler.bitexact`) and the
testbenches all take their layouts from one config object. Pack a payload with
``cfg.request_layout.const({...}).as_value().value`` or :meth:`SchedulerConfig.pack`,
unpack with :meth:`SchedulerConfig.unpack`.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import unsigned
from amaranth.lib import data

from sw_scheduler import formats as F
from sw_scheduler.hw_policies import HW_POLICIES, hw_policy

__all__ = [
    "DEFAULT_KAPPA",
    "LUT_LAYER",
    "LUT_PARAM",
    "LUT_VARIANT",
    "PARAM_BETA",
    "PREDICTORS",
    "PRIORITY_WIDTH",
    "SchedulerConfig",
]

# running mean of the measured/mean nnz ratios, the last ratio, or measured/mean busy cycles
PREDICTORS = ("mean", "last", "busy")
PRIORITY_WIDTH = (len(F.PRIORITY_LEVELS) - 1).bit_length()
LUT_VARIANT = 0                 # ``lut_w.payload.table`` values
LUT_LAYER = 1
LUT_PARAM = 2                   # run-time parameters, ``addr``:
PARAM_BETA = 0                  #   the BETA code (low bits of ``data``)
DEFAULT_KAPPA = round(F.DEFAULT_KAPPA_S * F.DEFAULT_CLOCK_HZ)


@dataclass(frozen=True)
class SchedulerConfig:
    """Structural parameters of one scheduler build.

    Parameters
    ----------
    lut : LutLayout
        Address layout of the LUTs (model/pattern/layer bits).
    num_slots : int
        Task-table entries; a power of two in 4..256.
    score_width : int
        Score saturation width (the penalty term saturates at the same maximum).
    time_width : int
        Width of the cycle counter, deadlines and finish cycles.
    beta : int
        ``BETA`` code (UQ8.16) weighting urgency + penalty after reset (the run-time value
        is written through ``lut_w``, table ``LUT_PARAM``).
    predictor : str
        ``"mean"`` (running mean of the measured/mean nnz ratios), ``"last"`` (the last
        ratio) or ``"busy"`` (measured over mean busy cycles of the executed layers; the
        LUT images must be built with ``inv_field="busy"``).
    counter_init : int
        Value of the free-running cycle counter after reset (tests start it near the wrap).
    policy : str
        Hardware scheduling policy (:data:`sw_scheduler.hw_policies.HW_POLICIES`; its
        score unit in :mod:`rtl.scheduler.policies`). It decides the key width and which
        optional fields the task table stores.
    kappa : int
        Penalty time unit in cycles, folded into ``KINV_ISO``; PREMA's token thresholds
        are multiples of it (build constant, default one second at the default clock).
    """

    lut: F.LutLayout
    num_slots: int = F.DEFAULT_SLOTS
    score_width: int = F.SCORE_WIDTH
    time_width: int = F.TIME_WIDTH
    beta: int = F.BETA.quantize(F.DEFAULT_BETA)[0]
    predictor: str = "mean"
    counter_init: int = 0
    policy: str = "dysta"
    kappa: int = DEFAULT_KAPPA

    def __post_init__(self):
        if not isinstance(self.lut, F.LutLayout):
            raise TypeError(f"SchedulerConfig.lut must be a LutLayout, got {self.lut!r}")
        n = self.num_slots
        if not isinstance(n, int) or not 4 <= n <= 256 or n & (n - 1):
            raise ValueError(f"SchedulerConfig.num_slots must be a power of two in 4..256, "
                             f"got {n!r}")
        if not isinstance(self.score_width, int) or not 33 <= self.score_width <= 64:
            raise ValueError(f"SchedulerConfig.score_width must be an int in 33..64, "
                             f"got {self.score_width!r}")
        if not isinstance(self.time_width, int) or not 8 <= self.time_width <= 48:
            raise ValueError(f"SchedulerConfig.time_width must be an int in 8..48, "
                             f"got {self.time_width!r}")
        if not isinstance(self.beta, int) or not 0 <= self.beta <= F.BETA.max_int:
            raise ValueError(f"SchedulerConfig.beta must be a BETA code in "
                             f"0..{F.BETA.max_int}, got {self.beta!r}")
        if self.predictor not in PREDICTORS:
            raise ValueError(f"SchedulerConfig.predictor must be one of {PREDICTORS}, "
                             f"got {self.predictor!r}")
        if self.policy not in HW_POLICIES:
            raise ValueError(f"SchedulerConfig.policy must be one of {tuple(HW_POLICIES)}, "
                             f"got {self.policy!r}")
        if not isinstance(self.kappa, int) or not 1 <= self.kappa < 1 << 32:
            raise ValueError(f"SchedulerConfig.kappa must be an int in 1..2**32-1, "
                             f"got {self.kappa!r}")
        if not isinstance(self.counter_init, int) or not 0 <= self.counter_init < self.time_mod:
            raise ValueError(f"SchedulerConfig.counter_init must be in 0..{self.time_mod - 1}, "
                             f"got {self.counter_init!r}")

    @classmethod
    def for_images(cls, images, **kw) -> SchedulerConfig:
        """Config whose LUT layout, beta and kappa come from a :class:`LutImages`."""
        kw.setdefault("beta", images.beta)
        kw.setdefault("kappa", images.kappa_cycles)
        return cls(lut=images.layout, **kw)

    # ---- derived numbers ----
    @property
    def slot_bits(self) -> int:
        return (self.num_slots - 1).bit_length()

    @property
    def count_width(self) -> int:
        """Width of ``n_active`` (0..num_slots)."""
        return self.slot_bits + 1

    @property
    def time_mod(self) -> int:
        return 1 << self.time_width

    @property
    def score_max(self) -> int:
        return (1 << self.score_width) - 1

    @property
    def hw_policy(self):
        """The :class:`~sw_scheduler.hw_policies.HwPolicy` of ``policy``."""
        return hw_policy(self.policy)

    @property
    def key_width(self) -> int:
        """Width of the policy's key (the argmin compares it)."""
        return self.hw_policy.key_width(self.time_width, self.score_width)

    @property
    def gamma_sum_shape(self):
        """The predictor's running sum: ratios (GAMMA_SUM) or busy cycles (BUSY_SUM)."""
        return F.gamma_sum_format(self.predictor).shape

    @property
    def inv_field(self) -> str:
        """What the LAYER words' ``inv_nnz`` field must hold for this predictor."""
        return F.inv_field(self.predictor)

    def check_images(self, images) -> None:
        """Raise ValueError if ``images`` do not fit this build (layout, predictor)."""
        if images.layout != self.lut:
            raise ValueError(f"images layout {images.layout} differs from config {self.lut}")
        if self.hw_policy.gamma and images.inv_field != self.inv_field:
            raise ValueError(f"predictor {self.predictor!r} needs LUT images with "
                             f"inv_field={self.inv_field!r}, got {images.inv_field!r}")

    @property
    def recip_depth(self) -> int:
        """RECIP ROM entries: 1/n for n up to max(num_slots, max_layers)."""
        return max(self.num_slots, self.lut.max_layers) + 1

    # ---- layouts ----
    @property
    def request_layout(self) -> data.StructLayout:
        """Host -> scheduler: one inference request."""
        return data.StructLayout({
            "tag": unsigned(F.TAG_WIDTH),
            "model": unsigned(self.lut.model_bits),
            "pattern": unsigned(self.lut.pattern_bits),
            "deadline": unsigned(self.time_width),   # absolute cycle-counter value
            "priority": unsigned(PRIORITY_WIDTH),    # index into PRIORITY_LEVELS (carried)
        })

    @property
    def completion_layout(self) -> data.StructLayout:
        """Scheduler -> host: a request finished its last layer."""
        return data.StructLayout({
            "tag": unsigned(F.TAG_WIDTH),
            "finish": unsigned(self.time_width),     # counter value of the last layer-done
        })

    @property
    def command_layout(self) -> data.StructLayout:
        """Scheduler -> NPU: run one layer."""
        return data.StructLayout({
            "slot": unsigned(self.slot_bits),
            "model": unsigned(self.lut.model_bits),
            "pattern": unsigned(self.lut.pattern_bits),
            "layer": unsigned(self.lut.layer_bits),
        })

    @property
    def response_layout(self) -> data.StructLayout:
        """NPU -> scheduler: the commanded layer is done (slot implied: one in flight)."""
        return data.StructLayout({"nnz": F.NNZ.shape})

    @property
    def row_layout(self) -> data.StructLayout:
        """One task-table entry: the fields every policy needs plus the policy's own."""
        fields = self.hw_policy.row_fields
        t = unsigned(self.time_width)
        lay = {"tag": unsigned(F.TAG_WIDTH),
               "model": unsigned(self.lut.model_bits),
               "pattern": unsigned(self.lut.pattern_bits),
               "layer": unsigned(self.lut.layer_bits)}     # next layer to run
        optional = {
            "priority": unsigned(PRIORITY_WIDTH),
            "deadline": t,
            "arrival": t,        # counter at acceptance
            "last_run": t,       # acceptance, then each layer-done
            "vstart": t,         # acceptance + cycles the request ran (PREMA's waiting)
        }
        lay.update({k: v for k, v in optional.items() if k in fields})
        if "gamma" in fields:       # gamma_sum: the sum of ratios, or of busy cycles
            lay.update({"gamma": F.GAMMA.shape, "gamma_sum": self.gamma_sum_shape,
                        "count": unsigned(self.lut.layer_bits + 1)})
        return data.StructLayout(lay)

    @property
    def lut_addr_width(self) -> int:
        return self.lut.model_bits + self.lut.pattern_bits + self.lut.layer_bits

    @property
    def lut_write_layout(self) -> data.StructLayout:
        """Host -> scheduler LUT write: ``table`` is LUT_VARIANT, LUT_LAYER or LUT_PARAM."""
        return data.StructLayout({
            "table": unsigned(2),
            "addr": unsigned(max(1, self.lut_addr_width)),
            "data": unsigned(max(F.VARIANT_ENTRY.size, F.LAYER_ENTRY.size)),
        })

    # ---- packing helpers (models, testbenches, cocotb) ----
    @staticmethod
    def pack(layout: data.StructLayout, fields: dict) -> int:
        """Pack ``fields`` into an int; raises ValueError naming a field that does not fit."""
        word = 0
        for name, fld in layout:
            v = int(fields.get(name, 0))
            if not 0 <= v < 1 << fld.width:
                raise ValueError(f"field {name}={v} does not fit {fld.width} bits")
            word |= v << fld.offset
        return word

    @staticmethod
    def unpack(layout: data.StructLayout, word: int) -> dict:
        return {name: (word >> fld.offset) & ((1 << fld.width) - 1) for name, fld in layout}

"""Datapath widths, enums and stream layouts: the single definition for RTL, models and tests.

Every port of :class:`rtl.accelerator.engine.SparseEngine` uses a layout from here; the
numpy reference, the host driver and the testbenches pack and unpack with the same
objects (``layout.const({...}).as_bits()``, ``layout.from_bits(v)``).
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, enum

from sw_scheduler.formats import NNZ, TAG_WIDTH

__all__ = [
    "ACC",
    "ACT",
    "ADDR_WIDTH",
    "CMD_LAYOUT",
    "DIM_WIDTH",
    "LANE_CHOICES",
    "MAX_DEPTH",
    "RESP_LAYOUT",
    "SHIFT_WIDTH",
    "Activation",
    "Buffer",
    "Kind",
    "load_layout",
    "out_layout",
]

ACT = signed(8)        # activations and weights: int8
ACC = signed(32)       # lane accumulators: int32 (cannot overflow for K < 2**17)
SHIFT_WIDTH = 5        # requantisation shift 0..31
DIM_WIDTH = 16         # M, K, N, groups fields
ADDR_WIDTH = 16        # buffer address fields (every buffer depth <= 2**16)
MAX_DEPTH = 1 << ADDR_WIDTH
LANE_CHOICES = (8, 16, 32, 64)   # supported lane counts P (powers of two: pass arithmetic)
# reduction length (bitmap width) of an engine built without one: every lane selects its
# operand out of max_k and scans a max_k-bit bitmap, so logic and wiring grow with P x max_k;
# 16 routes at >= 105 MHz on an ECP5-85 at 16 and 32 lanes; 32 and 64 did not finish
# routing in minutes here (docs/fpga.md)
DEFAULT_MAX_K = 16


class Kind(enum.Enum, shape=2):
    """Layer kind (bookkeeping only: the engine computes all kinds the same way)."""
    CONV = 0       # conv as host-side im2col rows; depthwise/grouped via ``groups``
    FC = 1         # fully connected
    ATTENTION = 2  # attention scores x V, ``groups`` = heads


class Activation(enum.Enum, shape=1):
    """Drain activation function."""
    IDENTITY = 0   # e.g. attention S x V
    RELU = 1


class Buffer(enum.Enum, shape=2):
    """Target of a ``load`` write."""
    XROW = 0    # sparse-operand rows: max_k int8 values per row, zeros included
    WEIGHT = 1  # weight words: P int8 lanes per (group, pass, k)
    LIVE = 2    # per (group, pass): P lane bitmaps of max_k bits, weight non-zero


CMD_LAYOUT = data.StructLayout({
    "tag": unsigned(TAG_WIDTH),        # echoed in the response (e.g. the scheduler slot)
    "kind": Kind,
    "act": Activation,
    "shift": unsigned(SHIFT_WIDTH),    # requantise: y = sat8(acc >> shift)
    "M": unsigned(DIM_WIDTH),          # rows per group
    "K": unsigned(DIM_WIDTH),          # reduction length (<= engine max_k)
    "N": unsigned(DIM_WIDTH),          # output columns per group
    "groups": unsigned(DIM_WIDTH),
    "x_base": unsigned(ADDR_WIDTH),    # XROW address of row (group 0, m 0)
    "w_base": unsigned(ADDR_WIDTH),    # WEIGHT address of (group 0, pass 0, k 0)
    "live_base": unsigned(ADDR_WIDTH),  # LIVE address of (group 0, pass 0)
})

RESP_LAYOUT = data.StructLayout({
    "tag": unsigned(TAG_WIDTH),
    "nnz": NNZ.shape,                  # non-zero outputs of the layer (after activation)
})


def out_layout(lanes: int) -> data.StructLayout:
    """Layout of one ``out`` entry: the ``lanes`` output columns of one row pass."""
    return data.StructLayout({
        "values": data.ArrayLayout(ACT, lanes),   # after the activation; 0 past N
        "nz": unsigned(lanes),             # bit j: values[j] != 0
        "col": unsigned(DIM_WIDTH),        # output column of values[0] (pass * lanes)
        "last": unsigned(1),               # the output row's last pass
    })


def load_layout(*, lanes: int, max_k: int) -> data.StructLayout:
    """Layout of the ``load`` write stream of an engine with ``lanes`` lanes and ``max_k``."""
    width = max(max_k * ACT.width, lanes * ACT.width, lanes * max_k, ADDR_WIDTH)
    return data.StructLayout({
        "buf": Buffer,
        "addr": unsigned(ADDR_WIDTH),
        "data": unsigned(width),       # one whole word, low bits used (see docs/datapath.md)
    })

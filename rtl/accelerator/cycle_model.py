"""Cycle model of the zero-skipping datapath: the exact cycles the RTL takes for a layer.

A layer is ``groups`` independent GEMMs of ``M`` rows x ``K`` reduction x ``N`` output
columns (conv as im2col rows, depthwise conv as ``groups=C, N=1``, fc, attention S x V
with ``groups=heads``). For each group, the ``N`` columns are processed in
``passes = ceil(N / lanes)`` passes; in every pass every row of the sparse operand is
streamed, broadcasting only the *effective* non-zeros: entries whose activation is
non-zero and whose weight block (row ``k`` of the pass's columns) is not all zero.
The total number of such broadcasts over the layer is the layer's **work count** for
that lane count, computed from the real masks by :func:`work_count`; the trace stores
it per lane option so that other configurations can be recomputed.

After a row's broadcasts the drain stage serially drains the pass's valid columns
(one per cycle). The cycles are::

    cycles = work + M*N*groups + ROW_OVERHEAD * row_passes + LAYER_OVERHEAD
    row_passes = groups * ceil(N / lanes) * M

The constants are those of the RTL in ``rtl/accelerator``; the RTL tests assert that
the simulated cycles equal :func:`layer_cycles`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DRAIN_LATENCY",
    "FLUSH_CYCLES",
    "LANE_OPTIONS",
    "LAYER_OVERHEAD",
    "MAC_LATENCY",
    "READ_LATENCY",
    "REF_LANES",
    "ROW_OVERHEAD",
    "SCAN_LATENCY",
    "layer_cycles",
    "passes",
    "work_count",
]

LANE_OPTIONS = (8, 16, 32, 64)   # lane counts whose work counts every trace stores
REF_LANES = 16                   # the reference configuration of the committed traces
# pipeline depths of the RTL (the RTL imports these; the overheads below follow from them)
SCAN_LATENCY = 2      # BitScan: entry issued in cycle t -> its index/rank drive the reads at t+2
READ_LATENCY = 1      # XVAL/WEIGHT read: address at cycle a -> data at a+1
MAC_LATENCY = 3       # LaneArray: operands at cycle d -> the sum shows on drain_acc at d+3
DRAIN_LATENCY = 3     # drain: column issued at cycle t -> its entry on ``out`` at t+3
# cycles after a row pass's last broadcast cycle before its first drain issue
FLUSH_CYCLES = SCAN_LATENCY + READ_LATENCY + MAC_LATENCY - 1
# the next pass's LOAD and SETUP overlap the flush, so a row pass costs w + FLUSH + n
ROW_OVERHEAD = FLUSH_CYCLES      # cycles per (row, pass) besides broadcasts and drain (5)
# command, INIT, first LOAD, SETUP and PREP, drain tail (DRAIN_LATENCY + 1), response (10)
LAYER_OVERHEAD = 7 + DRAIN_LATENCY


def passes(n: int, lanes: int) -> int:
    """Column passes of an ``n``-column GEMM on ``lanes`` lanes."""
    return -(-n // lanes)


def layer_cycles(*, M: int, N: int, groups: int, lanes: int, work: int) -> int:
    """Exact cycles of one layer on a ``lanes``-lane engine given its work count."""
    for name, v in (("M", M), ("N", N), ("groups", groups), ("lanes", lanes), ("work", work)):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"layer_cycles: {name} must be a non-negative int, got {v!r}")
    if lanes == 0:
        raise ValueError("layer_cycles: lanes must be positive")
    row_passes = groups * passes(N, lanes) * M
    return int(work + M * N * groups + ROW_OVERHEAD * row_passes + LAYER_OVERHEAD)


def work_count(x_nz: np.ndarray, w_nz: np.ndarray, lanes: int) -> int:
    """Effective broadcasts of one layer from its real masks.

    Parameters
    ----------
    x_nz : bool array ``[groups, M, K]`` (or ``[M, K]`` for one group)
        Non-zero mask of the sparse operand (input activations / attention scores).
    w_nz : bool array ``[groups, K, N]`` (or ``[K, N]``)
        Non-zero mask of the weights (V for attention: all True).
    lanes : int
        Lane count ``P``.
    """
    x_nz = np.asarray(x_nz, dtype=bool)
    w_nz = np.asarray(w_nz, dtype=bool)
    if x_nz.ndim == 2:
        x_nz = x_nz[None]
    if w_nz.ndim == 2:
        w_nz = w_nz[None]
    g, _, k = x_nz.shape
    if w_nz.shape[:2] != (g, k):
        raise ValueError(f"work_count: mask shapes {x_nz.shape} and {w_nz.shape} disagree")
    n = w_nz.shape[2]
    total = 0
    for p in range(passes(n, lanes)):
        live = w_nz[:, :, p * lanes:(p + 1) * lanes].any(axis=2)      # [g, K]
        total += int(np.einsum("gmk,gk->", x_nz, live, dtype=np.int64))
    return total

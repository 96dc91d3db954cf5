"""Datapath work counts: the per-layer fact a trace stores for every lane option.

A layer is ``groups`` GEMMs of ``M`` rows x ``K`` reduction x ``N`` output columns. On a
``P``-lane zero-skipping engine its ``N`` columns are processed in ``passes(N, P)``
column passes; in every pass each row of the sparse operand broadcasts only its
*effective* non-zeros: entries whose activation is non-zero and whose weight block (row
``k`` of the pass's columns) is not all zero. The number of such broadcasts over the
layer is its **work count** at ``P`` lanes (:func:`work_count`, from the real masks).

Work counts are facts about the masks, independent of the datapath's pipeline: the
cycles a configuration takes follow from them through the cycle model
(:mod:`rtl.accelerator.cycle_model`), computed when a workload is loaded, never stored.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LANE_OPTIONS", "passes", "work_count"]

LANE_OPTIONS = (8, 16, 32, 64)   # lane counts whose work counts every trace stores


def passes(n: int, lanes: int) -> int:
    """Column passes of an ``n``-column GEMM on ``lanes`` lanes."""
    return -(-n // lanes)


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

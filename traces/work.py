"""Datapath work counts: the per-layer facts a trace stores for every lane option.

A layer is ``groups`` GEMMs of ``M`` rows x ``K`` reduction x ``N`` output columns. On a
``P``-lane engine its ``N`` columns are processed in ``passes(N, P)`` column passes of
``P`` lanes, one output column per lane. In a *row pass* (one row ``m`` of the sparse
operand against one column pass) lane ``j`` multiplies only the **effective products**
of its column ``n``: the ``k`` where the activation ``x[m, k]`` *and* the weight
``w[k, n]`` are non-zero (zeros of both operands are skipped). The lanes of a row pass
start together, so the pass lasts as long as its busiest lane: the layer's facts are

* ``products`` -- effective products, summed over every output (lane independent);
* ``work``     -- per row pass the largest effective-product count of its lanes, summed
  (the row passes' busy cycles: load imbalance between lanes counted exactly);
* ``empty``    -- row passes in which no lane has an effective product.

(:func:`work_counts`, from the real masks.) They are facts about the masks, independent
of the datapath's pipeline: cycles follow from them through the cycle model
(:mod:`rtl.accelerator.cycle_model`), computed when a workload is loaded, never stored.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

import numpy as np

__all__ = ["LANE_OPTIONS", "WorkCounts", "lane_options_work", "pass_work", "passes",
           "product_counts", "work_counts"]

LANE_OPTIONS = (8, 16, 32, 64)   # lane counts whose work counts every trace stores
_EXACT_F32 = 1 << 24             # float32 sums of 0/1 products are exact below this K


class WorkCounts(NamedTuple):
    """The facts of one layer at one lane count (see the module docstring)."""
    work: int
    empty: int
    products: int


def passes(n: int, lanes: int) -> int:
    """Column passes of an ``n``-column GEMM on ``lanes`` lanes."""
    return -(-n // lanes)


def _as3(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=bool)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"work_counts: {name} must be 2-D or 3-D, got shape {a.shape}")
    return a


def product_counts(x_nz: np.ndarray, w_nz: np.ndarray) -> np.ndarray:
    """``e [groups, M, N]`` int32: effective products of every output ``(m, n)``.

    ``e[g, m, n] = #{k : x_nz[g, m, k] and w_nz[g, k, n]}`` -- a 0/1 matrix product, done
    in float32 (exact: every partial sum is an integer below ``2**24``).
    """
    x, w = _as3(x_nz, "x_nz"), _as3(w_nz, "w_nz")
    g, _, k = x.shape
    if w.shape[:2] != (g, k):
        raise ValueError(f"work_counts: mask shapes {x.shape} and {w.shape} disagree")
    if k >= _EXACT_F32:
        raise ValueError(f"work_counts: K = {k} too long for exact float32 counts")
    e = np.matmul(x.astype(np.float32), w.astype(np.float32))
    return e.astype(np.int32)


def _busiest(e: np.ndarray, lanes: int) -> np.ndarray:
    """``[groups, M, passes]``: per row pass the largest product count of its lanes."""
    g, m, n = e.shape
    full = n // lanes
    parts = []
    if full:
        parts.append(e[:, :, :full * lanes].reshape(g, m, full, lanes).max(axis=3))
    if n % lanes:
        parts.append(e[:, :, full * lanes:].max(axis=2, keepdims=True))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)


def _count(busiest: np.ndarray) -> tuple[int, int]:
    return int(busiest.sum(dtype=np.int64)), int(np.count_nonzero(busiest == 0))


def pass_work(e: np.ndarray, lanes: int) -> tuple[int, int]:
    """``(work, empty)`` at ``lanes`` lanes from product counts ``e [groups, M, N]``."""
    e = np.asarray(e)
    if e.size == 0:
        return 0, 0
    return _count(_busiest(e, lanes))


def lane_options_work(e: np.ndarray, lane_options=LANE_OPTIONS) -> list[tuple[int, int]]:
    """:func:`pass_work` for every lane count of ``lane_options`` (ascending powers of two,
    each twice the previous): a pass of ``2P`` lanes is two adjacent passes of ``P``, so
    each level is the pairwise maximum of the one below (one pass over ``e``)."""
    e = np.asarray(e)
    if e.size == 0:
        return [(0, 0)] * len(lane_options)
    b = _busiest(e, lane_options[0])
    out = [_count(b)]
    for lo, hi in pairwise(lane_options):
        if hi != 2 * lo:
            raise ValueError(f"lane_options_work: {lane_options} are not successive doublings")
        if b.shape[2] % 2:
            b = np.concatenate([b, np.zeros_like(b[:, :, :1])], axis=2)
        b = np.maximum(b[:, :, 0::2], b[:, :, 1::2])
        out.append(_count(b))
    return out


def work_counts(x_nz: np.ndarray, w_nz: np.ndarray, lanes: int) -> WorkCounts:
    """The facts of one layer from its real masks.

    Parameters
    ----------
    x_nz : bool array ``[groups, M, K]`` (or ``[M, K]`` for one group)
        Non-zero mask of the sparse operand (input activations / attention scores).
    w_nz : bool array ``[groups, K, N]`` (or ``[K, N]``)
        Non-zero mask of the weights (V for attention: all True).
    lanes : int
        Lane count ``P``.
    """
    e = product_counts(x_nz, w_nz)
    work, empty = pass_work(e, lanes)
    return WorkCounts(work=work, empty=empty, products=int(e.sum(dtype=np.int64)))

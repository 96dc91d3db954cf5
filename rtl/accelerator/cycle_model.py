"""Cycle model of the zero-skipping datapath: the exact cycles the RTL takes for a layer.

A layer is ``groups`` independent GEMMs of ``M`` rows x ``K`` reduction x ``N`` output
columns (conv as im2col rows, depthwise conv as ``groups=C, N=1``, fc, attention S x V
with ``groups=heads``). For each group, the ``N`` columns are processed in
``passes = ceil(N / lanes)`` passes; in every pass every row of the sparse operand is
streamed, broadcasting only the *effective* non-zeros (the layer's **work count**,
:func:`traces.work.work_count`, stored by every trace per lane option).

After a row's broadcasts the drain stage serially drains the pass's valid columns
(one per cycle). The cycles are::

    cycles = work + M*N*groups + ROW_OVERHEAD * row_passes + LAYER_OVERHEAD
    row_passes = groups * ceil(N / lanes) * M

The constants are the timing contract (:mod:`sw_scheduler.timing`); the RTL tests assert
that the simulated cycles equal :func:`layer_cycles`. :func:`variant_cycles` turns a
trace's work counts into per-sample, per-layer cycles for one lane count: the workload
loader calls it, so a timing change never rewrites a data file.
"""

from __future__ import annotations

import numpy as np

from sw_scheduler.timing import LAYER_OVERHEAD, ROW_OVERHEAD
from traces.format import TraceError
from traces.work import passes

__all__ = ["layer_cycles", "variant_cycles"]


def layer_cycles(*, M: int, N: int, groups: int, lanes: int, work: int) -> int:
    """Exact cycles of one layer on a ``lanes``-lane engine given its work count."""
    for name, v in (("M", M), ("N", N), ("groups", groups), ("lanes", lanes), ("work", work)):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"layer_cycles: {name} must be a non-negative int, got {v!r}")
    if lanes == 0:
        raise ValueError("layer_cycles: lanes must be positive")
    row_passes = groups * passes(N, lanes) * M
    return int(work + M * N * groups + ROW_OVERHEAD * row_passes + LAYER_OVERHEAD)


def variant_cycles(variant, lanes: int) -> np.ndarray:
    """``[S, L]`` cycles of every sample and layer of a trace variant at ``lanes`` lanes.

    A layer runs each sample's own rows and columns (``variant.sample_rows()`` /
    ``sample_cols()``: the trace's optional ``rows`` / ``cols``, else ``M`` / ``N``), so
    inputs of natural size (token count, image width) take the cycles of their own shape.
    Raises :class:`~traces.format.TraceError` naming the file when the trace holds no
    work counts for ``lanes``.
    """
    work = variant.work_at(lanes)
    groups = np.array([lay.groups for lay in variant.layers], dtype=np.int64)[None, :]
    m, n = variant.sample_rows(), variant.sample_cols()
    npass = -(-n // lanes)
    out = work + m * n * groups + ROW_OVERHEAD * groups * npass * m + LAYER_OVERHEAD
    if out.size and out.min() < 1:
        raise TraceError(f"{variant.path or variant.name}: a layer takes {int(out.min())} "
                         f"cycles at {lanes} lanes")
    return out

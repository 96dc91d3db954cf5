"""Cycle model of the sparse datapath: the exact cycles the RTL takes for a layer.

A layer is ``groups`` independent GEMMs of ``M`` rows x ``K`` reduction x ``N`` output
columns (conv as im2col rows, depthwise conv as ``groups=C, N=1``, fc, attention S x V
with ``groups=heads``). Its ``N`` columns are processed in ``ceil(N / lanes)`` column
passes; a *row pass* is one operand row against one column pass. Each lane skips the zeros
of both operands, so a row pass lasts as many cycles as its busiest lane has effective
products, at least one; row passes follow each other without a gap while the previous
pass drains (double-buffered accumulators, a full-width drain). Hence::

    cycles = work + empty + LAYER_OVERHEAD

with the layer's **work counts** (:func:`traces.work.work_counts`, stored by every trace
per lane option): ``work`` = the busiest lane's effective products summed over the row
passes, ``empty`` = row passes without any. ``LAYER_OVERHEAD`` (the timing contract,
:mod:`sw_scheduler.timing`) is the pipeline's fill and empty time; layers with ``M``,
``N`` or ``groups`` = 0 take exactly it. The RTL tests assert that the simulated cycles
equal :func:`layer_cycles`. :func:`variant_cycles` turns a trace's work counts into
per-sample, per-layer cycles for one lane count: the workload loader calls it, so a
timing change never rewrites a data file.
"""

from __future__ import annotations

import numpy as np

from sw_scheduler.timing import LAYER_OVERHEAD
from traces.format import TraceError
from traces.work import work_counts

__all__ = ["layer_cycles", "mask_cycles", "variant_cycles"]


def layer_cycles(*, work: int, empty: int) -> int:
    """Exact cycles of one layer (``cmd`` transfer to ``resp`` transfer, inclusive, with
    ``out`` always ready) given its work counts at the engine's lane count."""
    for name, v in (("work", work), ("empty", empty)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ValueError(f"layer_cycles: {name} must be a non-negative int, got {v!r}")
    return int(work + empty + LAYER_OVERHEAD)


def mask_cycles(x_nz, w_nz, lanes: int) -> int:
    """:func:`layer_cycles` of a layer given its operand and weight non-zero masks."""
    wc = work_counts(x_nz, w_nz, lanes)
    return layer_cycles(work=wc.work, empty=wc.empty)


def variant_cycles(variant, lanes: int) -> np.ndarray:
    """``[S, L]`` cycles of every sample and layer of a trace variant at ``lanes`` lanes.

    Each sample's own counts are used (a sample's own rows and columns when the trace
    stores ``rows`` / ``cols``), so inputs of any size take their own cycles. Raises
    :class:`~traces.format.TraceError` naming the file when the trace holds no work counts
    for ``lanes``.
    """
    out = variant.work_at(lanes) + variant.empty_at(lanes) + LAYER_OVERHEAD
    if out.size and out.min() < 1:
        raise TraceError(f"{variant.path or variant.name}: a layer takes {int(out.min())} "
                         f"cycles at {lanes} lanes")
    return out

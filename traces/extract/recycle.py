"""Recompute the stored ``cycles`` of every trace from its stored work counts.

The datapath's cycle model (:mod:`rtl.accelerator.cycle_model`) may change after the
traces were extracted; the work counts do not depend on it. ``python -m
traces.extract.recycle [ROOT]`` rewrites each ``<model>/<pattern>.npz`` below ``ROOT``
(default ``traces/data``) whose cycles differ from ``layer_cycles`` at its ``ref_lanes``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rtl.accelerator.cycle_model import LANE_OPTIONS, layer_cycles
from traces.format import TraceError, load_variant, save_variant

__all__ = ["expected_cycles", "recycle"]

DATA_ROOT = Path(__file__).resolve().parent.parent / "data"


def expected_cycles(v) -> np.ndarray:
    """``[S, L]`` cycles of variant ``v`` from its work counts at ``v.ref_lanes``."""
    if tuple(v.lane_options) != tuple(LANE_OPTIONS):
        raise TraceError(f"{v.path}: field 'lane_options' = {list(v.lane_options)} differs "
                         f"from the cycle model's {list(LANE_OPTIONS)}: re-extract the trace")
    i = list(v.lane_options).index(v.ref_lanes)
    out = np.zeros_like(v.cycles)
    for j, lay in enumerate(v.layers):
        out[:, j] = [layer_cycles(M=lay.M, N=lay.N, groups=lay.groups, lanes=v.ref_lanes,
                                  work=int(w)) for w in v.work[:, j, i]]
    return out


def recycle(root=DATA_ROOT, log=print) -> int:
    """Rewrite every trace below ``root`` whose cycles are stale; return how many."""
    changed = 0
    files = sorted(Path(root).glob("*/*.npz"))
    for p in files:
        v = load_variant(p)
        cyc = expected_cycles(v)
        if not np.array_equal(cyc, v.cycles):
            v.cycles = cyc
            save_variant(v, p)
            changed += 1
            log(f"recycle: {p} updated")
    log(f"recycle: {changed} of {len(files)} trace files updated")
    return changed


if __name__ == "__main__":
    recycle(sys.argv[1] if len(sys.argv) > 1 else DATA_ROOT)

"""Timing contract of the hardware: every pipeline depth, defined once.

The RTL (:mod:`rtl.scheduler`, :mod:`rtl.accelerator`) builds its pipelines to these
depths, the bit-exact scheduler model (:mod:`sw_scheduler.bitexact`) and the datapath
cycle model (:mod:`rtl.accelerator.cycle_model`) count cycles with them, and the system
harnesses derive their quiet windows from them. Changing one changes the hardware, the
models and the tests together; the committed traces store work counts, not cycles, so no
data file changes.

Scheduler (``n`` active requests; ``T`` = NPU response handshake): a SCAN starting at
``c`` issues its command at ``c + n + SCAN_OVERHEAD``; the next SCAN starts at
``T + RESUME_DELAY`` after a non-final layer; after a final layer the completion goes
out at ``T + COMPLETION_DELAY`` and the next SCAN (or IDLE) starts at
``T + RETIRE_DELAY``.

Datapath: row passes run back to back, each as long as its busiest lane (at least one
cycle), while earlier passes drain; a layer adds ``LAYER_OVERHEAD``, the pipeline's fill
and empty time (:func:`rtl.accelerator.cycle_model.layer_cycles`).
"""

from __future__ import annotations

__all__ = [
    "COMPLETION_DELAY",
    "DRAIN_LATENCY",
    "LAYER_OVERHEAD",
    "MAC_LATENCY",
    "PRED_LATENCY",
    "PREP_LATENCY",
    "RESUME_DELAY",
    "RETIRE_DELAY",
    "SCAN_OVERHEAD",
    "SCORE_LATENCY",
]

# ---- scheduler (rtl/scheduler) ----
SCORE_LATENCY = 6                  # ScoreUnit stages (input -> score)
SCAN_OVERHEAD = SCORE_LATENCY + 2  # SCAN cycles besides one per active slot (table, LUT read)
PRED_LATENCY = 3                   # Predictor stages (stable inputs -> updated gamma)
RESUME_DELAY = 2                   # response T -> next SCAN (non-final layer: PRED, SCAN)
COMPLETION_DELAY = 2               # response T -> completion presented (MOVE, RET)
RETIRE_DELAY = COMPLETION_DELAY + 1  # response T -> next SCAN/IDLE after a final layer

# ---- datapath (rtl/accelerator) ----
# a row pass issued by the loop counters in cycle c can start in the lanes at c + PREP_LATENCY
# (row/mask read, register, effective-product masks and slice counts, per-lane counts, queue)
PREP_LATENCY = 6
# a lane issuing a product in cycle t: one-hot, index/operand, weight address, weight read,
# product, accumulate; the pass's accumulators are captured for the drain at t + MAC_LATENCY
MAC_LATENCY = 6
# captured in cycle t: shift (two stages), saturate/activation, FIFO; on ``out`` at t + 5
DRAIN_LATENCY = 5
# cmd, INIT, the first pass's prep, the last pass's MAC and drain, the response cycle (20)
LAYER_OVERHEAD = 3 + PREP_LATENCY + MAC_LATENCY + DRAIN_LATENCY

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

Datapath: a row pass costs its broadcasts + ``ROW_OVERHEAD`` + its drained columns; a
layer adds ``LAYER_OVERHEAD`` (:func:`rtl.accelerator.cycle_model.layer_cycles`).
"""

from __future__ import annotations

__all__ = [
    "COMPLETION_DELAY",
    "DRAIN_LATENCY",
    "FLUSH_CYCLES",
    "LAYER_OVERHEAD",
    "MAC_LATENCY",
    "PRED_LATENCY",
    "READ_LATENCY",
    "RESUME_DELAY",
    "RETIRE_DELAY",
    "ROW_OVERHEAD",
    "SCAN_LATENCY",
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

"""Timing contract of the hardware: every pipeline depth, defined once.

The RTL (:mod:`rtl.scheduler`, :mod:`rtl.accelerator`) builds its pipelines to these
depths, the bit-exact scheduler model (:mod:`sw_scheduler.bitexact`) and the datapath
cycle model (:mod:`rtl.accelerator.cycle_model`) count cycles with them, and the system
harnesses derive their quiet windows from them. Changing one changes the hardware, the
models and the tests together; the committed traces store work counts, not cycles, so no
data file changes.

Scheduler (``n`` active requests; ``T`` = NPU response handshake; per hardware policy, see
:func:`scan_overhead` and :func:`resume_delay`): a SCAN starting at ``c`` issues its command
at ``c + n + scan_overhead(policy)``; the next SCAN starts at ``T + resume_delay(policy)``
after a non-final layer; after a final layer the completion goes out at
``T + COMPLETION_DELAY`` and the next SCAN (or IDLE) starts at ``T + RETIRE_DELAY``.
Module-level ``SCORE_LATENCY``, ``SCAN_OVERHEAD`` and ``RESUME_DELAY`` are Dysta's.

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
    "MAX_SCAN_OVERHEAD",
    "PRED_LATENCY",
    "READ_LATENCY",
    "RESUME_DELAY",
    "RESUME_DELAY_GAMMA",
    "RESUME_DELAY_PLAIN",
    "RETIRE_DELAY",
    "ROW_OVERHEAD",
    "SCAN_FRONT",
    "SCAN_LATENCY",
    "SCAN_OVERHEAD",
    "SCORE_LATENCIES",
    "SCORE_LATENCY",
    "resume_delay",
    "scan_overhead",
]

# ---- scheduler (rtl/scheduler) ----
# SCAN: slot i is read from the task table in cycle c+i, registered in c+i+1, its LUT words
# are addressed in c+i+2 and reach the score unit's input in c+i+3 (SCAN_FRONT); the unit
# answers SCORE_LATENCIES[policy] cycles later into the argmin (registered).
SCAN_FRONT = 3
# Score unit stages per hardware policy (every product split into registered 18x18 partial
# products and one or two registered adder levels; see docs/scheduler_rtl.md).
SCORE_LATENCIES = {
    "fcfs": 1, "edf": 1, "sjf": 1, "sjf-sparse": 4, "prema": 5, "prema-sparse": 5,
    "planaria": 3, "sdrm3": 11, "sdrm3-sparse": 14, "dysta": 11,
}
SCORE_LATENCY = SCORE_LATENCIES["dysta"]
# Predictor: inputs registered at the response T -> updated gamma registered, valid from
# T + 1 + PRED_LATENCY (products nnz*INV_NNZ and sum*RECIP split as above).
PRED_LATENCY = 7
# Response T -> next SCAN after a non-final layer. The updated row must reach the score
# unit input of slot 0 (SCAN start + SCAN_FRONT): with the predictor (gamma policies)
# 1 + PRED_LATENCY - SCAN_FRONT; without, the FSM's own minimum (POST, then SCAN).
RESUME_DELAY_GAMMA = 1 + PRED_LATENCY - SCAN_FRONT
RESUME_DELAY_PLAIN = 2
RESUME_DELAY = RESUME_DELAY_GAMMA          # Dysta's
COMPLETION_DELAY = 2               # response T -> completion presented (POST, RET)
RETIRE_DELAY = COMPLETION_DELAY + 1  # response T -> next SCAN/IDLE after a final layer


def scan_overhead(policy: str = "dysta") -> int:
    """SCAN cycles besides one per active slot: table and LUT reads, score unit, argmin."""
    try:
        return SCAN_FRONT + SCORE_LATENCIES[policy]
    except KeyError:
        raise ValueError(f"no score latency for hardware policy {policy!r} "
                         f"(known: {', '.join(SCORE_LATENCIES)})") from None


def resume_delay(gamma: bool) -> int:
    """Response -> next SCAN after a non-final layer, with or without the predictor."""
    return RESUME_DELAY_GAMMA if gamma else RESUME_DELAY_PLAIN


SCAN_OVERHEAD = scan_overhead("dysta")
MAX_SCAN_OVERHEAD = max(map(scan_overhead, SCORE_LATENCIES))

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

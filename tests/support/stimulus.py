"""Seeded stimulus shared by the pytest tests and the cocotb testbenches."""

from __future__ import annotations

import numpy as np

from rtl.accelerator.layouts import Activation, Buffer, Kind
from rtl.accelerator.reference import LayerData, compress_rows, weight_words
from rtl.top import pack_descriptor
from sw_scheduler.formats import PRIORITY_LEVELS
from sw_scheduler.records import Request

__all__ = ["density_layers", "make_plan", "make_requests", "place", "rand_int8"]


def make_requests(rng, cfg, n, *, gap=(0, 400), slo=(-2000, 20_000), first=0):
    """``n`` requests with random gaps, ids, deadlines (counter values) and priorities."""
    reqs, c = [], first
    for i in range(n):
        c += int(rng.integers(*gap))
        deadline = (cfg.counter_init + c + int(rng.integers(*slo))) % cfg.time_mod
        reqs.append(Request(tag=i, arrival=c,
                            model_id=int(rng.integers(1 << cfg.lut.model_bits)),
                            pattern_id=int(rng.integers(1 << cfg.lut.pattern_bits)),
                            deadline=deadline,
                            priority=PRIORITY_LEVELS[int(rng.integers(3))]))
    return reqs


def make_plan(rng, n, *, lat=(1, 250), nnz_max=1 << 12):
    """``n`` NPU responses ``(latency, nnz)``."""
    return [(int(rng.integers(*lat)), int(rng.integers(0, nnz_max))) for _ in range(n)]


def rand_int8(rng, shape, zeros):
    """int8 values with a share ``zeros`` of exact zeros."""
    a = rng.integers(-128, 128, shape)
    a[rng.random(shape) < zeros] = 0
    return a


def density_layers(rng):
    """fc layers over every density, all-zero rows, single non-zero, odd sizes."""
    layers = []
    for zeros in (0.0, 0.5, 0.9, 1.0):
        layers.append(LayerData(rand_int8(rng, (5, 13), zeros), rand_int8(rng, (13, 21), 0.0),
                                shift=7, act=Activation.RELU))
    x = rand_int8(rng, (6, 17), 0.3)
    x[[0, 3, 5]] = 0                                         # all-zero rows
    layers.append(LayerData(x, rand_int8(rng, (17, 9), 0.2), shift=6,
                            act=Activation.IDENTITY))
    x = np.zeros((3, 19), dtype=np.int64)
    x[1, 18] = -77                                           # single non-zero, last k
    layers.append(LayerData(x, rand_int8(rng, (19, 3), 0.0), shift=0,
                            act=Activation.IDENTITY))
    layers.append(LayerData(rand_int8(rng, (1, 1), 0.0), rand_int8(rng, (1, 1), 0.0), shift=3))
    layers.append(LayerData(rand_int8(rng, (7, 31), 0.5), rand_int8(rng, (31, 1), 0.5),
                            shift=5))
    layers.append(LayerData(np.zeros((0, 5)), rand_int8(rng, (5, 7), 0.0)))      # M = 0
    layers.append(LayerData(np.zeros((3, 0)), np.zeros((0, 4))))                 # K = 0
    return layers


def place(layers, lanes):
    """Buffer writes and descriptors of ``layers`` laid out back to back in every buffer."""
    loads, descs = [], []
    xb = vb = wb = lb = 0
    byte = 0xFF
    for ly in layers:
        s = ly.shape
        masks, ptrs, vals = compress_rows(ly.x, val_base=vb)
        words, live = weight_words(ly.w, lanes)
        loads += [(Buffer.XMASK, xb + a, v) for a, v in enumerate(masks)]
        loads += [(Buffer.XPTR, xb + a, v) for a, v in enumerate(ptrs)]
        loads += [(Buffer.XVAL, vb + a, v & byte) for a, v in enumerate(vals)]
        loads += [(Buffer.WEIGHT, wb + a, sum((v & byte) << (8 * j) for j, v in enumerate(w)))
                  for a, w in enumerate(words)]
        loads += [(Buffer.LIVE, lb + a, v) for a, v in enumerate(live)]
        descs.append(pack_descriptor({"kind": Kind.FC, "act": ly.act, "shift": ly.shift,
                                      **s, "x_base": xb, "w_base": wb, "live_base": lb}))
        xb, vb, wb, lb = xb + len(masks), vb + len(vals), wb + len(words), lb + len(live)
    return loads, descs

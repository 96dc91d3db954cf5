"""Seeded stimulus shared by the pytest tests and the cocotb testbenches."""

from __future__ import annotations

import numpy as np

from rtl.accelerator.harness import layer_command
from rtl.accelerator.harness import place as harness_place
from rtl.accelerator.layouts import Activation
from rtl.accelerator.reference import LayerData
from rtl.top import pack_descriptor
from sw_scheduler.formats import PRIORITY_LEVELS
from sw_scheduler.records import Request

__all__ = ["density_layers", "make_plan", "make_requests", "place_commands", "rand_int8"]


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



def place_commands(engine, layers):
    """:func:`rtl.accelerator.harness.place` with each layer's command packed as a top
    descriptor: ``(loads, descriptors)`` of ``layers`` laid out back to back in every
    buffer of ``engine`` (anything with ``lanes``, ``max_k`` and ``depths``)."""
    loads, bases = harness_place(engine, layers)
    descs = [pack_descriptor(layer_command(ly, bases=b)) for ly, b in zip(layers, bases)]
    return loads, descs

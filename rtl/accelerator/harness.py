"""Host-side driver for :class:`~rtl.accelerator.engine.SparseEngine` in Amaranth's simulator.

:func:`layer_loads` turns a layer's operands into ``load`` writes (the buffer formats of
:mod:`rtl.accelerator.reference`); :func:`layer_command` builds its descriptor;
:func:`simulate` loads and runs a list of layers one after another, consumes ``out``
with an optionally random ``ready`` and measures each layer's cycles from the ``cmd``
transfer cycle to the ``resp`` transfer cycle, inclusive.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from traces.work import passes

from ..simrun import run_simulation
from .engine import SparseEngine
from .layouts import ACT, Buffer, Kind
from .reference import LayerData, compress_rows, decode_entries, weight_words

__all__ = ["LayerRun", "layer_command", "layer_loads", "simulate"]


@dataclass
class LayerRun:
    """Result of one simulated layer."""
    y: np.ndarray                  # decoded output [groups, M, N]
    entries: list                  # raw output stream (value, index, nz, last)
    nnz: int                       # non-zero count reported in the response
    tag: int
    cycles: int                    # cmd transfer .. resp transfer, inclusive
    load_cycles: int = 0           # cycles spent writing the buffers before the command
    load_seconds: float = 0.0      # wall time of simulating the load
    run_seconds: float = 0.0       # wall time of simulating the command (``cycles``)


def _check(engine: SparseEngine, layer: LayerData):
    s = layer.shape
    need = {"x_rows": s["groups"] * s["M"], "x_vals": int(np.count_nonzero(layer.x)),
            "w_words": s["groups"] * passes(s["N"], engine.lanes) * s["K"],
            "live_words": s["groups"] * passes(s["N"], engine.lanes)}
    if s["K"] > engine.max_k:
        raise ValueError(f"layer K={s['K']} exceeds engine max_k={engine.max_k}")
    for name, n in need.items():
        if n > engine.depths[name]:
            raise ValueError(f"layer needs {name}={n}, engine buffer holds "
                             f"{engine.depths[name]}")


def layer_loads(engine: SparseEngine, layer: LayerData) -> list[tuple[Buffer, int, int]]:
    """``(buffer, address, data)`` writes that place ``layer`` at address 0 of every buffer."""
    _check(engine, layer)
    masks, ptrs, vals = compress_rows(layer.x)
    words, live = weight_words(layer.w, engine.lanes)
    byte = (1 << ACT.width) - 1
    loads = [(Buffer.XMASK, a, v) for a, v in enumerate(masks)]
    loads += [(Buffer.XPTR, a, v) for a, v in enumerate(ptrs)]
    loads += [(Buffer.XVAL, a, v & byte) for a, v in enumerate(vals)]
    loads += [(Buffer.WEIGHT, a, sum((v & byte) << (ACT.width * j) for j, v in enumerate(w)))
              for a, w in enumerate(words)]
    loads += [(Buffer.LIVE, a, v) for a, v in enumerate(live)]
    return loads


def layer_command(layer: LayerData, *, tag: int = 0, kind: Kind = Kind.FC) -> dict:
    """``CMD_LAYOUT`` fields of ``layer`` placed at address 0 of every buffer."""
    return {"tag": tag, "kind": kind, "act": layer.act, "shift": layer.shift,
            **layer.shape, "x_base": 0, "w_base": 0, "live_base": 0}


def simulate(engine: SparseEngine, layers: list[LayerData], *, kinds=None,
             ready_prob: float = 1.0, seed: int = 0, resp_delay: int = 0,
             vcd: str | None = None) -> list[LayerRun]:
    """Load and run ``layers`` in order on ``engine``; return one :class:`LayerRun` each.

    ``ready_prob`` < 1 drives ``out.ready`` randomly (seeded); ``resp_delay`` holds
    ``resp.ready`` low for that many cycles after ``resp.valid`` rises; ``vcd`` (or the
    environment variable ``DATAPATH_VCD``) writes a waveform file.
    """
    kinds = kinds or [Kind.FC] * len(layers)
    plan = [(layer_loads(engine, ly), layer_command(ly, tag=i, kind=kd))
            for i, (ly, kd) in enumerate(zip(layers, kinds))]
    rng = random.Random(seed)
    entries: list[tuple[int, int, int, int]] = []
    runs: list[LayerRun] = []
    sim = Simulator(engine)
    sim.add_clock(1e-8)

    async def consumer(ctx):
        ctx.set(engine.out.ready, rng.random() < ready_prob)
        async for _, _, valid, ready, p in ctx.tick().sample(
                engine.out.valid, engine.out.ready, engine.out.payload):
            if valid and ready:
                entries.append((int(p.value), int(p.index), int(p.nz), int(p.last)))
            ctx.set(engine.out.ready, rng.random() < ready_prob)

    async def host(ctx):
        ctx.set(engine.resp.ready, resp_delay == 0)
        for (loads, cmd), layer in zip(plan, layers):
            t0 = time.perf_counter()
            first = len(entries)
            ctx.set(engine.load.valid, 1)
            for buf, addr, value in loads:
                ctx.set(engine.load.payload, {"buf": buf, "addr": addr, "data": value})
                await ctx.tick()
            ctx.set(engine.load.valid, 0)
            t1 = time.perf_counter()
            ctx.set(engine.cmd.payload, cmd)
            ctx.set(engine.cmd.valid, 1)
            while not ctx.get(engine.cmd.ready):
                await ctx.tick()
            await ctx.tick()                      # the cmd transfer cycle
            ctx.set(engine.cmd.valid, 0)
            cycles = 1
            while not ctx.get(engine.resp.valid):
                await ctx.tick()
                cycles += 1
            for _ in range(resp_delay):           # the host is not ready yet
                assert ctx.get(engine.resp.valid), "resp.valid fell before its transfer"
                await ctx.tick()
                cycles += 1
            ctx.set(engine.resp.ready, 1)
            resp = ctx.get(engine.resp.payload)
            await ctx.tick()                      # the resp transfer cycle
            ctx.set(engine.resp.ready, resp_delay == 0)
            cycles += 1
            s = layer.shape
            mine = entries[first:]
            runs.append(LayerRun(y=decode_entries(mine, s["groups"], s["M"], s["N"]),
                                 entries=mine, nnz=int(resp.nnz), tag=int(resp.tag),
                                 cycles=cycles, load_cycles=len(loads), load_seconds=t1 - t0,
                                 run_seconds=time.perf_counter() - t1))

    sim.add_testbench(consumer, background=True)
    sim.add_testbench(host)
    run_simulation(sim, vcd, env="DATAPATH_VCD")
    return runs

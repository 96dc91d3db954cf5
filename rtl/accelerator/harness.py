"""Host-side driver for :class:`~rtl.accelerator.engine.SparseEngine` in Amaranth's simulator.

:func:`layer_loads` turns a layer's operands into ``load`` writes (the buffer formats of
:mod:`rtl.accelerator.reference`) at given buffer bases; :func:`place` lays several layers
out back to back; :func:`layer_command` builds a descriptor; :func:`simulate` loads and
runs a list of layers one after another, consumes ``out`` with an optionally random
``ready`` and measures each layer's cycles from the ``cmd`` transfer cycle to the ``resp``
transfer cycle, inclusive.
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
from .reference import LayerData, decode_entries, live_words, row_words, weight_words

__all__ = ["LayerRun", "layer_command", "layer_loads", "place", "simulate"]

ZERO_BASES = {"x_base": 0, "w_base": 0, "live_base": 0}


@dataclass
class LayerRun:
    """Result of one simulated layer."""
    y: np.ndarray                  # decoded output [groups, M, N]
    entries: list                  # raw output stream (values, nz, col, last)
    nnz: int                       # non-zero count reported in the response
    tag: int
    cycles: int                    # cmd transfer .. resp transfer, inclusive
    load_cycles: int = 0           # cycles spent writing the buffers before the command
    load_seconds: float = 0.0      # wall time of simulating the load
    run_seconds: float = 0.0       # wall time of simulating the command (``cycles``)


def _needs(engine, layer: LayerData) -> dict:
    s = layer.shape
    npass = passes(s["N"], engine.lanes)
    return {"x_rows": s["groups"] * s["M"], "w_words": s["groups"] * npass * s["K"],
            "live_words": s["groups"] * npass}


def layer_loads(engine, layer: LayerData, bases: dict | None = None
                ) -> list[tuple[Buffer, int, int]]:
    """``(buffer, address, data)`` writes that place ``layer`` at ``bases`` (``x_base``,
    ``w_base``, ``live_base``; default all 0). ``engine`` needs ``lanes``, ``max_k`` and
    ``depths`` (a :class:`SparseEngine` or a stand-in); a layer that does not fit is a
    ``ValueError`` naming the buffer."""
    b = dict(ZERO_BASES, **(bases or {}))
    s = layer.shape
    if s["K"] > engine.max_k:
        raise ValueError(f"layer K={s['K']} exceeds engine max_k={engine.max_k}")
    for (name, n), base in zip(_needs(engine, layer).items(), b.values()):
        if base + n > engine.depths[name]:
            raise ValueError(f"layer needs {name}={base + n}, engine buffer holds "
                             f"{engine.depths[name]}")
    byte = (1 << ACT.width) - 1
    loads = [(Buffer.XROW, b["x_base"] + a, v) for a, v in enumerate(row_words(layer.x))]
    loads += [(Buffer.WEIGHT, b["w_base"] + a,
               sum((v & byte) << (ACT.width * j) for j, v in enumerate(w)))
              for a, w in enumerate(weight_words(layer.w, engine.lanes))]
    loads += [(Buffer.LIVE, b["live_base"] + a, v)
              for a, v in enumerate(live_words(layer.w, engine.lanes, engine.max_k))]
    return loads


def place(engine, layers: list[LayerData]) -> tuple[list, list[dict]]:
    """Loads and buffer bases of ``layers`` laid out back to back in every buffer."""
    loads, bases = [], []
    cur = dict(ZERO_BASES)
    for ly in layers:
        loads += layer_loads(engine, ly, cur)
        bases.append(dict(cur))
        for key, n in zip(cur, _needs(engine, ly).values()):
            cur[key] += n
    return loads, bases


def layer_command(layer: LayerData, *, tag: int = 0, kind: Kind = Kind.FC,
                  bases: dict | None = None) -> dict:
    """``CMD_LAYOUT`` fields of ``layer`` placed at ``bases`` (default all 0)."""
    return {"tag": tag, "kind": kind, "act": layer.act, "shift": layer.shift,
            **layer.shape, **dict(ZERO_BASES, **(bases or {}))}


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
    entries: list = []
    runs: list[LayerRun] = []
    sim = Simulator(engine)
    sim.add_clock(1e-8)

    async def consumer(ctx):
        ctx.set(engine.out.ready, rng.random() < ready_prob)
        async for _, _, valid, ready, p in ctx.tick().sample(
                engine.out.valid, engine.out.ready, engine.out.payload):
            if valid and ready:
                entries.append((tuple(int(v) for v in p.values), int(p.nz), int(p.col),
                                int(p.last)))
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
            runs.append(LayerRun(y=decode_entries(mine, s["groups"], s["M"], s["N"],
                                                  engine.lanes),
                                 entries=mine, nnz=int(resp.nnz), tag=int(resp.tag),
                                 cycles=cycles, load_cycles=len(loads), load_seconds=t1 - t0,
                                 run_seconds=time.perf_counter() - t1))

    sim.add_testbench(consumer, background=True)
    sim.add_testbench(host)
    run_simulation(sim, vcd, env="DATAPATH_VCD")
    return runs

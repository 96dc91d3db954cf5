"""LaneArray and Drain against Python models, with seeded random stimulus and their
pipeline latencies (the timing contract's constants)."""

import random

import numpy as np
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from rtl.accelerator.bits import lowest_one, onehot_index, onehot_select, popcount, sat_count
from rtl.accelerator.drain import DRAIN_STAGES, Drain, requantise
from rtl.accelerator.lanes import LaneArray
from rtl.accelerator.layouts import ACC
from sw_scheduler.timing import MAC_LATENCY


def _run(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()


def test_bit_helpers():
    width = 13
    rng = random.Random(4)
    m = Module()
    v, oh = Signal(width), Signal(width)
    words = [Signal(signed(8), name=f"w{k}") for k in range(width)]
    low, pc, idx, sel, sat = Signal(width), Signal(4), Signal(4), Signal(8), Signal(2)
    m.d.comb += [low.eq(lowest_one(v, width)), pc.eq(popcount(v, width)),
                 sat.eq(sat_count(m, v, width)),
                 idx.eq(onehot_index(oh, width)), sel.eq(onehot_select(oh, words, width))]

    async def tb(ctx):
        for i in range(200):
            a = rng.getrandbits(width)
            for _ in range(3 * (i % 2)):         # every other value sparse (0..3 bits set)
                a &= rng.getrandbits(width)
            vals = [rng.randrange(-128, 128) for _ in range(width)]
            k = rng.randrange(width + 1)                     # k == width: no bit set
            ctx.set(v, a)
            ctx.set(oh, 0 if k == width else 1 << k)
            for s, x in zip(words, vals):
                ctx.set(s, x)
            assert ctx.get(low) == a & -a
            assert ctx.get(pc) == a.bit_count()
            assert ctx.get(sat) == min(a.bit_count(), 3)
            assert ctx.get(idx) == (0 if k == width else k)
            assert ctx.get(sel) == (0 if k == width else vals[k] & 0xFF)
            await ctx.delay(1e-9)

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()


def test_lane_array_pass_timing_banks_and_capture():
    """Random row passes: each lasts max(max count, 1) cycles from its start, the next starts
    in the cycle its predecessor ends, and every pass's accumulators are read out exactly
    MAC_LATENCY cycles after its last issue. The testbench holds the current pass's weight
    base and meta (the engine's queue head) until ``pass_end`` and shows its row one cycle
    later (the engine's read of XROW at the head's address)."""
    P, K, words = 8, 12, 64
    dut = LaneArray(lanes=P, max_k=K, w_words=words)
    rng = np.random.default_rng(2)
    wmem = rng.integers(-128, 128, (words, P))
    passes = []
    for i in range(60):
        dens = rng.choice([0.0, 0.2, 0.6, 1.0])
        row = rng.integers(-128, 128, K) * (rng.random(K) < 0.7)
        live = rng.random((P, K)) < dens
        pend = [(row != 0) & live[j] for j in range(P)]
        wbase = int(rng.integers(0, words - K))
        acc = [int(sum(row[k] * wmem[wbase + k, j] for k in np.flatnonzero(pend[j])))
               for j in range(P)]
        passes.append((row, pend, wbase, acc, i))

    async def tb(ctx):
        ctx.set(dut.wload.valid, 1)
        for a in range(words):
            ctx.set(dut.wload.payload, {"addr": a, "data": [int(v) for v in wmem[a]]})
            await ctx.tick()
        ctx.set(dut.wload.valid, 0)
        cycle, starts, ends, caps = 0, [], [], []
        nxt, cur = 0, 0                     # next pass to start, pass at the queue head
        row_next = None                     # the row shown in the next cycle (a read)
        while len(caps) < len(passes):
            go = nxt < len(passes) and ctx.get(dut.need) and rng.random() < 0.9
            if go:
                _, pend, _, _, _ = passes[nxt]
                ctx.set(dut.pend, [int(sum(1 << k for k in np.flatnonzero(p))) for p in pend])
                ctx.set(dut.count, [int(p.sum()) for p in pend])
                ctx.set(dut.le1, max(int(p.sum()) for p in pend) <= 1)
                ctx.set(dut.le2, max(int(p.sum()) for p in pend) <= 2)
                starts.append(cycle)
                nxt += 1
            ctx.set(dut.start, go)
            if row_next is not None:
                ctx.set(dut.row, row_next)
            if cur < len(passes):
                row, _, wbase, _, i = passes[cur]
                row_next = [int(v) for v in row]
                ctx.set(dut.wbase, wbase)
                ctx.set(dut.meta, {"col": i, "last": i % 2, "end": 0})
            if ctx.get(dut.pass_end):
                ends.append(cycle)
                cur += 1
            if ctx.get(dut.cap_valid):
                caps.append((cycle, int(ctx.get(dut.cap_meta.col)),
                             [int(v) for v in ctx.get(dut.cap_acc)]))
            await ctx.tick()
            cycle += 1
            assert cycle < 5000
        for n, (row, pend, wbase, acc, i) in enumerate(passes):
            length = max(max(int(p.sum()) for p in pend), 1)
            assert ends[n] == starts[n] + length, f"pass {n}"     # its last issue cycle
            if n + 1 < len(passes):
                assert starts[n + 1] >= ends[n], f"pass {n + 1} started before pass {n} ended"
            assert caps[n] == (ends[n] + MAC_LATENCY, i, acc), f"pass {n}"

    _run(dut, tb)


def test_drain_requantises_every_lane():
    """One pass per cycle, every lane: values, non-zero bits and meta after DRAIN_STAGES
    cycles (``relu`` and ``shift`` are layer constants: one run each)."""
    P = 8
    rng = np.random.default_rng(3)
    for relu in (False, True):
        dut = Drain(P)
        shift = int(rng.integers(0, 32)) if relu else 5
        cases = []
        for _ in range(100):
            acc = rng.integers(-(1 << 31), 1 << 31, P)
            acc[rng.random(P) < 0.6] >>= int(rng.integers(0, 31))
            cases.append(acc)

        async def tb(ctx, dut=dut, cases=cases, shift=shift, relu=relu):
            ctx.set(dut.shift, shift)
            ctx.set(dut.relu, relu)
            for n in range(len(cases) + DRAIN_STAGES):
                if n < len(cases):
                    ctx.set(dut.cap_acc, [int(v) for v in cases[n]])
                    ctx.set(dut.cap_meta, {"col": n, "last": n & 1, "end": 0})
                ctx.set(dut.cap_valid, n < len(cases))
                assert ctx.get(dut.o_valid) == (n >= DRAIN_STAGES)
                if n >= DRAIN_STAGES:
                    e = ctx.get(dut.o_entry)
                    y = np.clip(cases[n - DRAIN_STAGES] >> shift, -128, 127)
                    y = np.maximum(y, 0) if relu else y
                    assert [int(v) for v in e.values] == y.tolist()
                    assert e.nz == sum(1 << j for j in range(P) if y[j])
                    assert (e.col, e.last) == (n - DRAIN_STAGES, (n - DRAIN_STAGES) & 1)
                await ctx.tick()

        _run(dut, tb)


def test_requantise_expression_exhaustive_edges():
    m = Module()
    v = Signal(ACC)
    relu = Signal()
    y = requantise(v, relu)
    edges = [0, 1, -1, 127, 128, -128, -129, 255, -256, (1 << 31) - 1, -(1 << 31), 300, -300]

    async def tb(ctx):
        for e in edges + list(range(-300, 300, 7)):
            for r in (0, 1):
                ctx.set(v, e)
                ctx.set(relu, r)
                want = min(max(e, -128), 127)
                want = max(want, 0) if r else want
                assert ctx.get(y) == want & 0xFF, (e, r)
                await ctx.delay(1e-9)

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()

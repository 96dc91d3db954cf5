"""BitScan and LaneArray against Python models, with seeded random stimulus."""

import random

from amaranth.sim import Simulator

from rtl.accelerator.bitscan import BitScan
from rtl.accelerator.lanes import LaneArray


def test_bitscan_random_bitmaps():
    width = 37
    dut = BitScan(width)
    rng = random.Random(1)

    async def tb(ctx):
        cases = [(1, 1), (1 << (width - 1), (1 << width) - 1)]
        cases += [(rng.getrandbits(width), rng.getrandbits(width)) for _ in range(300)]
        for pending, row in cases:
            pending |= 1 << rng.randrange(width)
            row |= pending
            ctx.set(dut.pending, pending)
            ctx.set(dut.row, row)
            k = (pending & -pending).bit_length() - 1
            assert ctx.get(dut.index) == k
            assert ctx.get(dut.rank) == (row & ((1 << k) - 1)).bit_count()
            assert ctx.get(dut.rest) == pending & ~(1 << k)

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()


def test_lane_array_accumulates_and_clears():
    lanes = 8
    dut = LaneArray(lanes)
    rng = random.Random(2)
    model = [0] * lanes

    async def tb(ctx):
        for step in range(200):
            mac, clear = rng.random() < 0.7, step % 37 == 36
            mac = mac and not clear
            x = rng.randrange(-128, 128)
            w = [rng.randrange(-128, 128) for _ in range(lanes)]
            sel = rng.randrange(lanes)
            ctx.set(dut.mac, mac)
            ctx.set(dut.clear, clear)
            ctx.set(dut.x, x)
            ctx.set(dut.w, w)
            ctx.set(dut.drain_sel, sel)
            nxt = [a + (x * wj if mac else 0) for a, wj in zip(model, w)]
            assert ctx.get(dut.drain_acc) == nxt[sel]
            model[:] = [0] * lanes if clear else nxt
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()

"""BitScan and LaneArray against Python models, with seeded random stimulus and their
pipeline latencies (the cycle model's constants)."""

import random

from amaranth.sim import Simulator

from rtl.accelerator.bitscan import BitScan
from rtl.accelerator.lanes import LaneArray
from sw_scheduler.timing import MAC_LATENCY, SCAN_LATENCY


def test_bitscan_random_bitmaps():
    width = 37
    dut = BitScan(width)
    rng = random.Random(1)

    async def tb(ctx):
        cases = [(1, 1), (1 << (width - 1), (1 << width) - 1)]
        cases += [(rng.getrandbits(width), rng.getrandbits(width)) for _ in range(300)]
        expect = []                    # (index, rank) per cycle, None for no issue
        for pending, row in cases:
            pending |= 1 << rng.randrange(width)
            row |= pending
            issue = rng.random() < 0.8
            ctx.set(dut.pending, pending)
            ctx.set(dut.row, row)
            ctx.set(dut.issue, issue)
            k = (pending & -pending).bit_length() - 1
            assert ctx.get(dut.rest) == pending & ~(1 << k)
            expect.append((k, (row & ((1 << k) - 1)).bit_count()) if issue else None)
            if len(expect) > SCAN_LATENCY:
                want = expect[-1 - SCAN_LATENCY]
                assert ctx.get(dut.valid) == (want is not None)
                if want is not None:
                    assert (ctx.get(dut.index), ctx.get(dut.rank)) == want
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()


def test_lane_array_accumulates_and_clears():
    lanes = 8
    dut = LaneArray(lanes)
    rng = random.Random(2)
    model = [0] * lanes
    inflight = []                      # products entering the accumulators, oldest first

    async def tb(ctx):
        for step in range(300):
            # clear only with no MAC in flight (the contract); otherwise random MACs
            clear = step % 37 == 36
            quiet = clear or any(step % 37 >= 36 - d for d in range(MAC_LATENCY))
            mac = rng.random() < 0.7 and not quiet
            x = rng.randrange(-128, 128)
            w = [rng.randrange(-128, 128) for _ in range(lanes)]
            sel = rng.randrange(lanes)
            ctx.set(dut.mac, mac)
            ctx.set(dut.clear, clear)
            ctx.set(dut.x, x)
            ctx.set(dut.w, w)
            ctx.set(dut.drain_sel, sel)
            assert ctx.get(dut.drain_acc) == model[sel], f"step {step}"
            inflight.append([x * wj for wj in w] if mac else None)
            # the MAC issued MAC_LATENCY - 1 cycles ago lands at the end of this cycle
            landing = inflight[-MAC_LATENCY] if len(inflight) >= MAC_LATENCY else None
            if clear:
                model[:] = [0] * lanes
            elif landing is not None:
                model[:] = [a + p for a, p in zip(model, landing)]
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()

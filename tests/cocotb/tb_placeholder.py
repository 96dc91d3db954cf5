"""cocotb test of the placeholder Component: running sums under back-pressure."""

import os
import random

import cocotb
from cocotb.triggers import FallingEdge
from placeholder import LUT_INIT
from tbkit import TB, StreamSink, StreamSource, pauses


@cocotb.test()
async def running_sums(dut):
    seed = int(os.environ.get("TB_SEED", "1"))
    tb = TB(dut)
    dut.lut_we.value = 0
    dut.lut_addr.value = 0
    dut.lut_data.value = 0
    await tb.start()
    src = StreamSource(tb, "i", pause=pauses(seed, 0.3))
    snk = StreamSink(tb, "o", pause=pauses(seed + 1, 0.4))
    rng = random.Random(seed)
    values = [rng.randrange(256) for _ in range(200)]
    for v in values:
        src.put(v)
    cocotb.start_soon(src.run())
    cocotb.start_soon(snk.run())
    for _ in range(2000):
        await FallingEdge(dut.clk)
        if len(snk.received) == len(values):
            break
    acc, expect = 0, []
    for v in values:
        acc = (acc + v) & 0xFFFF
        expect.append((acc + LUT_INIT[v % 4]) & 0xFFFF)
    got = [p for _, p in snk.received]
    assert len(got) == len(expect), f"{len(got)} outputs for {len(expect)} inputs"
    for n, (g, e) in enumerate(zip(got, expect)):
        assert g == e, f"output {n}: got {g}, expected {e}"
    # every output appears after its input's transfer
    for (ci, _), (co, _) in zip(src.sent, snk.received):
        assert co > ci

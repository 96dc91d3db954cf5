"""The host interface driven through its Wishbone bus by the Python driver (Amaranth
simulation): register map, the scheduler against the bit-exact model, captured out rows,
back-pressure and FIFO overflow, write ports."""

import asyncio
from dataclasses import replace

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl.accelerator.cycle_model import mask_cycles
from rtl.accelerator.layouts import DEFAULT_MAX_K, Activation
from rtl.accelerator.reference import LayerData, layer_reference, out_entries
from rtl.export import build, default_lut_images
from rtl.host.csr import HostInterface
from rtl.host.driver import DriverError, HostDriver, SimBusTransport, _fields
from rtl.host.regmap import COUNTERS, ID, RegisterMap
from rtl.scheduler.layouts import SchedulerConfig
from sw_scheduler import formats as F
from sw_scheduler.bitexact import BitExactScheduler
from tests.support.stimulus import make_requests, place_commands
from tests.support.stimulus import rand_int8 as _rand

SLOTS, LANES = 4, 8


def make_host(**kw):
    top, _, _ = build("top", slots=SLOTS, lanes=LANES)
    return HostInterface(top, **kw)


def make_map(lanes=LANES):
    cfg = SchedulerConfig.for_images(default_lut_images(), num_slots=SLOTS)
    return RegisterMap(cfg, lanes=lanes, max_k=DEFAULT_MAX_K)


def run(dut, bench, *, cycles=400_000, extra=()):
    """Run ``bench(driver, ctx)`` against ``dut``; fail after ``cycles``; ``extra``: more
    background testbenches."""
    result = {}

    async def tb(ctx):
        drv = HostDriver(SimBusTransport(ctx, dut.bus), dut.regmap)
        result["value"] = await bench(drv, ctx)

    async def watchdog(ctx):
        await ctx.delay(cycles * 1e-8)
        raise TimeoutError(f"host test still running after {cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.add_testbench(watchdog, background=True)
    for proc in extra:
        sim.add_testbench(proc, background=True)
    sim.run()
    return result["value"]


def layers_for(rng):
    return [LayerData(_rand(rng, (3, 16), z), _rand(rng, (16, LANES + 2), wz), shift=sh, act=act)
            for z, wz, sh, act in ((0.3, 0.0, 8, Activation.RELU),
                                   (0.7, 0.4, 6, Activation.IDENTITY))]


def test_register_map_and_identity():
    dut = make_host()
    rmap = dut.regmap
    addrs = [a for r in rmap.registers.values() for a in range(r.addr, r.addr + r.words)]
    assert len(addrs) == len(set(addrs)) and max(addrs) < 1 << RegisterMap.ADDR_WIDTH

    async def bench(drv, ctx):
        info = await drv.check()
        await drv.write("ctrl", 3)
        ctrl = await drv.read("ctrl")
        t0 = await drv.now()
        await drv.set_time(1000)
        t1 = await drv.now()
        return info, ctrl, t0, t1, await drv.counters(), await drv.status()

    info, ctrl, t0, t1, cnt, st = run(dut, bench)
    assert info["id"] == ID and info["slots"] == SLOTS and info["lanes"] == LANES
    assert info["beta"] == dut.top.config.beta
    assert ctrl == 3
    # the time-base write pulses time_w in its ack cycle; the next access (a read of now)
    # is accepted in the cycle after, the first one with the new time
    assert t1 == 1000 and t0 < 100
    assert set(cnt) == set(COUNTERS) and cnt["decisions"] == 0 and cnt["cycles"] > 10
    assert st["n_active"] == 0 and st["req_level"] == 0


def test_bad_identity_is_one_line_error():
    other = make_map(lanes=LANES + 8)
    dut = make_host()

    async def bench(drv, ctx):
        drv.map = other
        with pytest.raises(DriverError, match="device register lanes = 0x8, the map says"):
            await drv.check()
        return True

    assert run(dut, bench)


def _bus_scenario(*, beta=None, rewrite_midway=False):
    """LUT rewrite, descriptors and buffers through the bus, then 8 timed requests with
    contention; ``beta``: a BETA code set through lut_w first; ``rewrite_midway``: the LUT
    images (same contents) and beta written again while the scheduler runs, so lut_w
    meets SCANs (ready low). Returns what the model needs and what the bus saw."""
    rng = np.random.default_rng(7)
    layers = layers_for(rng)
    dut = make_host()
    loads, descs = place_commands(dut.top.engine, layers)
    cfg, img = dut.top.config, default_lut_images()
    lay = cfg.lut

    def which(m, p, layer):
        return (m + 2 * p + layer) % len(layers)

    reqs = make_requests(rng, cfg, 8, gap=(0, 300), slo=(-2000, 20_000), first=8_000)
    lut = {"taken": 0, "stalled": 0}

    async def monitor(ctx):
        """Counts lut_w handshakes and cycles a committed word waited for ready."""
        port = dut.top.lut_w
        async for _, _, valid, ready in ctx.tick().sample(port.valid, port.ready):
            if valid:
                lut["taken" if ready else "stalled"] += 1

    async def bench(drv, ctx):
        await drv.check()
        await drv.load_images(img)                      # same contents, through lut_w
        if beta is not None:
            await drv.set_beta(beta)
        for buf, addr, v in loads:
            await drv.load(buf, addr, v)
        for m_ in range(1 << lay.model_bits):
            for p in range(1 << lay.pattern_bits):
                for layer in range(lay.max_layers):
                    await drv.write_descriptor(lay.layer_addr(m_, p, layer),
                                               descs[which(m_, p, layer)])
        assert await drv.now() < reqs[0].arrival - 2000, "set-up overran the first release"
        await drv.clear_counters()
        done = []
        pending = list(reqs)
        rewritten = not rewrite_midway
        while len(done) < len(reqs):
            while pending and (await drv.status())["req_level"] < 14:
                r = pending.pop(0)
                await drv.push_request(r, release=r.arrival)
            c = await drv.pop_completion()
            if c is not None:
                done.append(c)
            if not rewritten and (await drv.status())["n_active"] >= 2:
                await drv.load_images(img)
                if beta is not None:
                    await drv.set_beta(beta)
                rewritten = True
        return done, await drv.counters(), await drv.status()

    dut_run = run(dut, bench, cycles=400_000, extra=[monitor])

    def npu(k, d):
        ly = layers[which(d.model, d.pattern, d.layer)]
        lat = mask_cycles(ly.x != 0, ly.w != 0, LANES)
        return lat, int(np.count_nonzero(layer_reference(ly)))

    def model(beta_code):
        return BitExactScheduler(replace(cfg, beta=beta_code), img).run(reqs, npu)

    return dut_run, lut, model, npu, layers, which, reqs, img, cfg


def test_scheduler_through_the_bus_matches_the_model():
    """Every completion (tag, finish) equals the bit-exact model with the datapath's cycle
    counts, and the counters agree with the model's decisions."""
    (done, cnt, st), lut, model, npu, layers, which, reqs, img, cfg = _bus_scenario()
    got = model(cfg.beta)
    assert [(c["tag"], c["finish"]) for c in done] == \
        [(c.tag, c.finish) for c in got.completions]
    assert max(d.n_active for d in got.decisions) > 1, "no contention in the stimulus"
    assert cnt["late"] == 0 and st["late_seen"] == 0 and cnt["overflow"] == 0
    assert cnt["accepted"] == cnt["completed"] == len(reqs)
    assert cnt["decisions"] == len(got.decisions)
    rows = sum(len(out_entries(layer_reference(layers[which(d.model, d.pattern, d.layer)]),
                               LANES))
               for d in got.decisions)
    assert cnt["out_rows"] == rows
    assert cnt["busy_cycles"] == sum(npu(k, d)[0] for k, d in enumerate(got.decisions))
    assert lut["taken"] == len(img.variant) + len(img.layer)


def test_lut_writes_wait_for_ready_and_beta_is_set_through_the_bus():
    """lut_w is interlocked with the scheduler's SCANs: LUT words (and beta) written while
    requests are being ranked wait for ready with the bus held, none is lost (every word
    is taken once), the schedule is the model's with the beta written through the bus -
    which differs from the built beta's schedule."""
    beta = F.BETA.quantize(0.001)[0]      # 0.01 built; a smaller beta reorders this load
    (done, cnt, _st), lut, model, _, _, _, reqs, img, cfg = _bus_scenario(
        beta=beta, rewrite_midway=True)
    assert beta != cfg.beta
    want, built = model(beta), model(cfg.beta)
    got = [(c["tag"], c["finish"]) for c in done]
    assert got == [(c.tag, c.finish) for c in want.completions]
    assert got != [(c.tag, c.finish) for c in built.completions], "beta changes nothing here"
    assert lut["taken"] == 2 * (len(img.variant) + len(img.layer) + 1)
    assert lut["stalled"] > 0, "no lut_w word met a SCAN"
    assert cnt["accepted"] == cnt["completed"] == len(reqs)


def test_captured_out_rows_and_checksum():
    """ctrl.capture: the out rows of one layer come out of the OUT FIFO as the reference
    gives them, and out_sum folds the same rows."""
    rng = np.random.default_rng(3)
    layers = layers_for(rng)[:1]
    dut = make_host(out_depth=128)
    loads, descs = place_commands(dut.top.engine, layers)
    lay = dut.top.config.lut
    want = out_entries(layer_reference(layers[0]), LANES)
    layout = dut.regmap.layouts["out"]

    async def bench(drv, ctx):
        await drv.set_ctrl(capture=True)
        for buf, addr, v in loads:
            await drv.load(buf, addr, v)
        # model 0, pattern 0: one layer per the default images? run every layer of it on
        # the same descriptor and count rows per layer
        n = default_lut_images().variant_entry(0, 0)["n_layers"]
        for layer in range(n):
            await drv.write_descriptor(lay.layer_addr(0, 0, layer), descs[0])
        await drv.push_request({"tag": 5, "model": 0, "pattern": 0, "deadline": 0,
                                "priority": 0})
        rows, comp = [], None
        while comp is None:
            comp = await drv.pop_completion()
        while (r := await drv.pop_out()) is not None:
            rows.append(r)
        return n, rows, comp, await drv.read("out_sum"), await drv.counters()

    n, rows, comp, out_sum, cnt = run(dut, bench)
    assert comp["tag"] == 5
    words = [layout.const({"values": list(v), "nz": nz, "col": col, "last": last}).as_bits()
             for v, nz, col, last in want]
    assert rows == [_fields(layout, w) for w in words] * n
    assert cnt["out_rows"] == len(rows) and cnt["decisions"] == n
    s = 0
    for w in words * n:
        fold = 0
        while w:
            fold, w = fold ^ (w & 0xFFFF_FFFF), w >> 32
        s = ((s << 1) | (s >> 31)) & 0xFFFF_FFFF ^ fold
    assert out_sum == s


def test_back_pressure_and_overflow():
    """With hold set nothing is offered; a full request FIFO drops a push and counts it; once
    released the scheduler takes requests until its table is full (table_full_cycles)."""
    dut = make_host(req_depth=4)

    async def bench(drv, ctx):
        await drv.set_ctrl(hold=True)
        for tag in range(4):
            await drv.push_request({"tag": tag, "model": 0, "pattern": 0, "deadline": 0,
                                    "priority": 0})
        with pytest.raises(DriverError, match="request FIFO full"):
            await drv.push_request({"tag": 9, "model": 0, "pattern": 0, "deadline": 0,
                                    "priority": 0})
        await drv.write_fields("req", {"req": {"tag": 9}, "timed": 0, "release": 0})
        held = await drv.status()
        await drv.set_ctrl(hold=False)
        for _ in range(20):
            await ctx.tick()
        return held, await drv.status(), await drv.counters()

    held, st, cnt = run(dut, bench)
    assert held["req_level"] == 4 and held["n_active"] == 0 and held["overflow_seen"]
    assert cnt["overflow"] == 1 and cnt["accepted"] == 4 == st["n_active"]
    assert st["full"] and cnt["table_full_cycles"] > 0


def test_driver_runs_under_asyncio_with_a_fake_transport():
    """The driver is transport-agnostic: a dict-backed transport under asyncio."""
    rmap = make_map()

    class Fake:
        def __init__(self):
            self.mem = {r.addr: r.value for r in rmap.registers.values() if r.kind == "const"}

        async def read(self, addr):
            return self.mem.get(addr, 0)

        async def write(self, addr, value):
            self.mem[addr] = value

    async def main():
        drv = HostDriver(Fake(), rmap)
        info = await drv.check()
        assert await drv.pop_completion() is None
        await drv.write("desc_w", (1 << rmap["desc_w"].width) - 1)
        return info

    assert asyncio.run(main())["slots"] == SLOTS

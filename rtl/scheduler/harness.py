"""Amaranth-simulation harness for :class:`DystaScheduler`, shared by the tests and the bench.

:func:`simulate` drives the RTL with the same stimulus the bit-exact model takes
(:class:`sw_scheduler.records.Request` offers and a per-command ``(latency, nnz)`` plan)
and returns the same :class:`~sw_scheduler.bitexact.Result` records, so the two can be
compared field by field. :func:`random_images` builds LUT images with random codes.
"""

from __future__ import annotations

from amaranth.sim import Simulator

from sw_scheduler import formats as F
from sw_scheduler.bitexact import Decision, Result, Retirement, encode_request
from sw_scheduler.lut_image import LutImages

from ..simrun import run_simulation
from .layouts import LUT_LAYER, LUT_PARAM, LUT_VARIANT, PARAM_BETA, SchedulerConfig
from .top import DystaScheduler

__all__ = ["lut_words", "random_images", "simulate", "skip", "until"]


def random_images(layout: F.LutLayout, rng, *, n_layers=(1, 6), rem_max=20_000,
                  kinv_max=1 << 20, beta=None, saturate=False,
                  inv_field: str = "nnz") -> LutImages:
    """LUT images with random codes.

    ``n_layers`` bounds the layers per (model, pattern) (inclusive, < max_layers);
    REM is a decreasing suffix sum (0 at ``n_layers``); ``saturate=True`` puts some
    fields at their format maximum (REM, INV_NNZ, KINV_ISO). ``inv_field="busy"``: the
    inverse field holds INV_BUSY-sized codes (gamma of a few hundred cycles near 0.1-1).
    """
    inv_lo, inv_hi = (1 << 28, 1 << 32) if inv_field == "busy" else (1, 1 << 26)
    hi = min(n_layers[1], layout.max_layers - 1)
    variant, layer = [], [0] * layout.layer_depth
    for v in range(layout.variant_depth):
        nl = int(rng.integers(n_layers[0], hi + 1))
        kinv = int(rng.integers(0, kinv_max))
        if saturate and rng.random() < 0.3:
            kinv = F.KINV_ISO.max_int
        variant.append(F.VARIANT_ENTRY.const({"n_layers": nl, "kinv_iso": kinv})
                       .as_value().value)
        rem = 0
        for lyr in reversed(range(nl)):
            rem += int(rng.integers(1, rem_max))
            r = F.REM.max_int if saturate and rng.random() < 0.2 else min(rem, F.REM.max_int)
            inv = int(rng.integers(inv_lo, inv_hi))
            if rng.random() < 0.1:
                inv = 0                       # layer without mean non-zeros: no update
            elif saturate and rng.random() < 0.2:
                inv = F.INV_NNZ.max_int
            layer[(v << layout.layer_bits) | lyr] = (
                F.LAYER_ENTRY.const({"rem": r, "inv_nnz": inv}).as_value().value)
    n_models = 1 << layout.model_bits
    n_pat = 1 << layout.pattern_bits
    return LutImages(layout=layout, variant=variant, layer=layer,
                     models=[f"m{i}" for i in range(n_models)],
                     patterns=[f"p{i}" for i in range(n_pat)],
                     beta=F.BETA.quantize(F.DEFAULT_BETA)[0] if beta is None else beta,
                     kappa_cycles=F.DEFAULT_CLOCK_HZ, inv_field=inv_field)


async def until(ctx, cond, *samples):
    """Tick until ``cond`` is true at a clock edge; return ``samples`` at that edge.

    Plain one-shot awaits (no async generators), so a background testbench left waiting
    at the end of the simulation is closed cleanly.
    """
    while True:
        _, _, *vals, c = await ctx.tick().sample(*samples, cond)
        if c:
            return vals


async def skip(ctx, n: int):
    """Let ``n`` clock edges pass."""
    for _ in range(n):
        await ctx.tick()


def lut_words(images: LutImages, beta: int | None = None) -> list[tuple[int, int, int]]:
    """``(table, addr, data)`` words loading ``images`` (and a run-time ``beta``) via ``lut_w``."""
    words = [(LUT_VARIANT, a, w) for a, w in enumerate(images.variant)]
    words += [(LUT_LAYER, a, w) for a, w in enumerate(images.layer)]
    if beta is not None:
        words.append((LUT_PARAM, PARAM_BETA, beta))
    return words


def simulate(config: SchedulerConfig, images: LutImages, requests, plan, *,
             max_cycles: int = 1_000_000, cmd_stall=None, load_luts: bool = False,
             beta: int | None = None, n_decisions: int | None = None, vcd=None) -> Result:
    """Run the RTL on ``requests`` with an NPU stub following ``plan[k] = (latency, nnz)``.

    ``cmd_stall(k)`` (optional) gives extra cycles the stub keeps ``npu_cmd.ready`` low
    before taking command ``k`` (the bit-exact model assumes 0). ``load_luts=True`` builds
    the RTL with empty LUTs and writes ``images`` (and ``beta``, if given, as the run-time
    BETA) through ``lut_w`` from cycle 0 on, one word per cycle while ``ready`` (requests
    must be offered after the load). Stops when
    every request has completed (or, if ``n_decisions`` is given, after that many NPU
    commands); raises TimeoutError after ``max_cycles``. Writes a VCD
    if ``vcd`` or the environment variable ``SCHED_VCD`` names a file.
    """
    dut = DystaScheduler(config, None if load_luts else images)
    init, mod = config.counter_init, config.time_mod
    requests = list(requests)
    res = Result()
    done = {"n": 0}

    def cycle_before(ctx):
        """Absolute cycle whose closing edge just happened."""
        return (ctx.get(dut.now) - init - 1) % mod

    async def producer(ctx):
        cyc = 0
        if load_luts:
            ctx.set(dut.lut_w.valid, 1)
            for table, addr, word in lut_words(images, beta):
                ctx.set(dut.lut_w.payload, {"table": table, "addr": addr, "data": word})
                await until(ctx, dut.lut_w.ready)
            ctx.set(dut.lut_w.valid, 0)
            cyc = cycle_before(ctx) + 1
            if requests and requests[0].arrival < cyc:
                raise ValueError(f"first request offered at {requests[0].arrival}, before the "
                                 f"LUT load ends at cycle {cyc}")
        for r in requests:
            if r.arrival > cyc:
                ctx.set(dut.requests.valid, 0)
                await skip(ctx, r.arrival - cyc)
            ctx.set(dut.requests.payload, encode_request(r, config.time_width))
            ctx.set(dut.requests.valid, 1)
            await until(ctx, dut.requests.ready)
            a = cycle_before(ctx)
            res.accepts.append((r.tag, a))
            cyc = a + 1
        ctx.set(dut.requests.valid, 0)

    async def npu(ctx):
        k = 0
        while n_decisions is None or k < n_decisions:
            if cmd_stall is not None and cmd_stall(k):
                ctx.set(dut.npu_cmd.ready, 0)
                await until(ctx, dut.npu_cmd.valid)
                await skip(ctx, cmd_stall(k))
            ctx.set(dut.npu_cmd.ready, 1)
            na, p = await until(ctx, dut.npu_cmd.valid, dut.n_active, dut.npu_cmd.payload)
            c = cycle_before(ctx)
            res.decisions.append(Decision(cycle=c, slot=p.slot, tag=-1, model=p.model,
                                          pattern=p.pattern, layer=p.layer, n_active=na,
                                          scan_start=-1))
            ctx.set(dut.npu_cmd.ready, 0)
            lat, nnz = plan[k]
            k += 1
            if lat > 1:
                await skip(ctx, lat - 1)
            ctx.set(dut.npu_resp.payload.nnz, nnz)
            ctx.set(dut.npu_resp.valid, 1)
            await until(ctx, dut.npu_resp.ready)
            ctx.set(dut.npu_resp.valid, 0)

    async def host(ctx):
        ctx.set(dut.completions.ready, 1)
        while done["n"] < len(requests):
            (p,) = await until(ctx, dut.completions.valid, dut.completions.payload)
            c = cycle_before(ctx)
            res.completions.append(Retirement(cycle=c, tag=p.tag, finish=p.finish,
                                              finish_cycle=(p.finish - init) % mod))
            done["n"] += 1
        res.end_cycle = cycle_before(ctx) + 1

    async def watchdog(ctx):
        await ctx.delay(max_cycles * 1e-8)
        raise TimeoutError(f"scheduler simulation: {done['n']} of {len(requests)} requests "
                           f"completed after {max_cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(npu, background=n_decisions is None)
    sim.add_testbench(watchdog, background=True)
    sim.add_testbench(host, background=n_decisions is not None)
    run_simulation(sim, vcd, env="SCHED_VCD")
    return res

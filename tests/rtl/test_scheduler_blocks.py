"""Scheduler blocks alone on directed cases: table/intake, predictor, score unit, argmin."""

import numpy as np
import pytest
from amaranth.hdl import unsigned
from amaranth.sim import Simulator

from rtl.scheduler.harness import random_images, simulate, until
from rtl.scheduler.layouts import SchedulerConfig
from rtl.scheduler.predictor import PRED_LATENCY, Predictor
from rtl.scheduler.score import SCORE_LATENCY, Argmin, DystaScoreUnit
from rtl.scheduler.table import TaskTable
from sw_scheduler import formats as F
from sw_scheduler.bitexact import GAMMA_ONE, BitExactScheduler, predict, ratio_code
from sw_scheduler.hw_policies import dysta_score
from sw_scheduler.records import Request


def score(*, t, deadline, last_run, gamma, rem_lut, kinv_iso, recip_n, beta, time_width,
          score_width):
    """The Dysta score of one entry given as plain fields."""
    return dysta_score(t=t, row={"deadline": deadline, "last_run": last_run, "gamma": gamma},
                       var={"kinv_iso": kinv_iso}, lay={"rem": rem_lut}, recip_n=recip_n,
                       beta=beta, time_width=time_width, score_width=score_width)


def run_sim(dut, *benches, clock=True):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-8)
    for b in benches:
        sim.add_testbench(b)
    sim.run()


# ---- bit-exact arithmetic on hand-computed cases ----------------------------------------------
def test_score_by_hand():
    half = 1 << 15                                       # beta = 0.5
    kw = {"time_width": 32, "score_width": 40, "beta": half, "recip_n": 1 << 16}
    # rem 1000, slack 5000 - 1000 = 4000, no wait: 1000 + 0.5 * 4000
    assert score(t=10, deadline=5010, last_run=10, gamma=GAMMA_ONE, rem_lut=1000,
                 kinv_iso=0, **kw) == 3000
    # gamma 2.0 doubles rem; deadline passed: urgency 0
    assert score(t=10, deadline=5, last_run=10, gamma=2 * GAMMA_ONE, rem_lut=1000,
                 kinv_iso=0, **kw) == 2000
    # wait 100 * kinv 3.0 = 300, / n_active 2 = 150, * 0.5 = 75
    assert score(t=110, deadline=0, last_run=10, gamma=GAMMA_ONE, rem_lut=0,
                 kinv_iso=3 << 16, time_width=32, score_width=40, beta=half,
                 recip_n=1 << 15) == 75
    # wrap: deadline 1000 cycles after a t just below 2**32
    t = (1 << 32) - 200
    assert score(t=t, deadline=800, last_run=t, gamma=GAMMA_ONE, rem_lut=0, kinv_iso=0,
                 **kw) == 500
    # saturation at the score maximum
    assert score(t=0, deadline=0, last_run=(1 << 32) - (1 << 30), gamma=F.GAMMA.max_int,
                 rem_lut=F.REM.max_int, kinv_iso=F.KINV_ISO.max_int,
                 **{**kw, "beta": F.BETA.max_int}) == (1 << 40) - 1


def test_predict_by_hand():
    recip = F.recip_table(9)
    inv = (1 << F.INV_NNZ.frac) // 100           # mean nnz 100
    assert ratio_code(200, inv) == 2 * GAMMA_ONE - 1   # 2.0 minus truncation of 1/100
    g, s, c = predict("mean", GAMMA_ONE, 0, 0, 200, inv, recip)
    assert (g, c) == (ratio_code(200, inv), 1)
    g, s, c = predict("mean", g, s, c, 0, inv, recip)          # mean of 2.0 and 0.0
    assert c == 2 and abs(g - GAMMA_ONE) <= 1
    assert predict("last", 7, 5, 3, 50, inv, recip) == (ratio_code(50, inv), 5, 3)
    assert predict("mean", 7, 5, 3, 50, 0, recip) == (7, 5, 3)   # INV_NNZ 0: skip
    assert ratio_code(F.NNZ.max_int, F.INV_NNZ.max_int) == F.GAMMA.max_int


# ---- predictor ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["mean", "last"])
def test_predictor(variant):
    rng = np.random.default_rng(3)
    recip = F.recip_table(17)
    cases = [(0, 0, GAMMA_ONE, 0, 0), (F.NNZ.max_int, F.INV_NNZ.max_int, 5, 9, 3),
             (123, 0, 77, 88, 2), (4000, 1 << 20, 1, F.GAMMA_SUM.max_int - 3, 15)]
    cases += [(int(rng.integers(0, 1 << 32)), int(rng.integers(0, 1 << 32)),
               int(rng.integers(0, 1 << 16)), int(rng.integers(0, 1 << 24)),
               int(rng.integers(0, 16))) for _ in range(40)]
    dut = Predictor(variant=variant, count_width=5)

    async def tb(ctx):
        for nnz, inv, g, s, c in cases:
            for port, v in ((dut.nnz, nnz), (dut.inv_nnz, inv), (dut.gamma, g),
                            (dut.gamma_sum, s), (dut.count, c), (dut.recip, recip[c + 1])):
                ctx.set(port, v)
            for _ in range(PRED_LATENCY):
                await ctx.tick()
            got = (ctx.get(dut.gamma_o), ctx.get(dut.gamma_sum_o), ctx.get(dut.count_o))
            assert got == predict(variant, g, s, c, nnz, inv, recip), (nnz, inv, g, s, c)

    run_sim(dut, tb)


# ---- score unit ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tw,beta", [(32, 655), (32, F.BETA.max_int), (16, 1 << 16)])
def test_score_unit(tw, beta):
    rng = np.random.default_rng(tw + beta)
    sw = F.SCORE_WIDTH
    tmod = 1 << tw
    t = tmod - 100                                     # decision time just before the wrap
    recip_n = F.recip_table(5)[3]
    mx = (tmod - 1, tmod - 1, F.GAMMA.max_int, F.REM.max_int, F.KINV_ISO.max_int)
    entries = [mx, (t, t, 0, 0, 0), ((t + 50) % tmod, (t - 70) % tmod, GAMMA_ONE, 40, 1 << 16),
               ((t - 5) % tmod, (t + 5) % tmod, GAMMA_ONE, 10, 1 << 16)]   # past deadline;
    entries += [tuple(int(rng.integers(0, m + 1)) for m in mx) for _ in range(60)]
    cfg = SchedulerConfig(lut=F.LutLayout(1, 1, 2), time_width=tw, score_width=sw, beta=beta)
    dut = DystaScoreUnit(cfg, unsigned(8))
    expect = [score(t=t, deadline=d, last_run=lr, gamma=g, rem_lut=r, kinv_iso=k,
                    recip_n=recip_n, beta=beta, time_width=tw, score_width=sw)
              for d, lr, g, r, k in entries]
    got = []

    async def feed(ctx):
        ctx.set(dut.t, t)
        ctx.set(dut.recip_n, recip_n)
        for idx, (d, lr, g, r, k) in enumerate(entries):
            ctx.set(dut.i.payload, {"row": {"deadline": d, "last_run": lr, "gamma": g},
                                    "var": {"kinv_iso": k}, "lay": {"rem": r},
                                    "payload": idx})
            ctx.set(dut.i.valid, 1)
            if idx % 7 == 3:                       # a bubble now and then
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
                ctx.set(dut.i.valid, 1)
            await ctx.tick()
        ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        cycles = 0
        while len(got) < len(entries):
            _, _, v, p = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycles += 1
            if v:
                got.append((p.payload, p.score))
        assert cycles >= len(entries) + SCORE_LATENCY

    run_sim(dut, feed, sink)
    assert got == list(enumerate(expect))
    assert 0 in expect                                 # nothing due, nothing waited
    if beta == F.BETA.max_int:
        assert (1 << sw) - 1 in expect                 # saturated score exercised


# ---- argmin ---------------------------------------------------------------------------------
def test_argmin_ties_and_clear():
    dut = Argmin(score_width=8, payload_shape=unsigned(4))
    seqs = [[5, 3, 3, 9, 3], [7], [2, 2, 1, 1], [255, 255]]

    async def tb(ctx):
        for seq in seqs:
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            assert not ctx.get(dut.best_valid)
            for i, s in enumerate(seq):
                ctx.set(dut.i.payload, {"score": s, "payload": i})
                ctx.set(dut.i.valid, 1)
                await ctx.tick()
            ctx.set(dut.i.valid, 0)
            await ctx.tick()
            want = min(range(len(seq)), key=lambda i: (seq[i], i))
            assert ctx.get(dut.best_valid)
            assert (ctx.get(dut.best_score), ctx.get(dut.best_payload)) == (seq[want], want)
        # clear in the same cycle as an entry: the entry becomes the best
        ctx.set(dut.clear, 1)
        ctx.set(dut.i.payload, {"score": 200, "payload": 9})
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        ctx.set(dut.i.valid, 0)
        assert (ctx.get(dut.best_score), ctx.get(dut.best_payload)) == (200, 9)

    run_sim(dut, tb)


# ---- task table / intake --------------------------------------------------------------------
def test_table_intake_backpressure_and_compaction():
    cfg = SchedulerConfig(lut=F.LutLayout(1, 1, 2), num_slots=4)
    dut = TaskTable(cfg)
    reqs = [{"tag": 10 + i, "model": i & 1, "pattern": 1, "deadline": 1000 * i,
             "priority": i % 3} for i in range(6)]

    async def tb(ctx):
        ctx.set(dut.now, 77)
        ctx.set(dut.intake.valid, 1)
        ctx.set(dut.intake.payload, reqs[0])
        await ctx.tick()
        assert ctx.get(dut.n_active) == 0              # allow low: nothing taken
        ctx.set(dut.allow, 1)
        for i, r in enumerate(reqs[:4]):
            ctx.set(dut.intake.payload, r)
            ctx.set(dut.now, 100 + i)
            assert ctx.get(dut.intake.ready)
            await ctx.tick()
        assert ctx.get(dut.n_active) == 4 and ctx.get(dut.full)
        ctx.set(dut.intake.payload, reqs[4])
        for _ in range(3):                             # full: held off, never dropped
            assert not ctx.get(dut.intake.ready)
            await ctx.tick()
        assert ctx.get(dut.n_active) == 4
        for slot in range(4):
            ctx.set(dut.rd_addr, slot)
            await ctx.tick()
            row = ctx.get(dut.rd_data)
            assert (row.tag, row.model, row.deadline, row.last_run) == (
                10 + slot, slot & 1, 1000 * slot, 100 + slot)
            assert (row.layer, row.gamma, row.gamma_sum, row.count) == (0, GAMMA_ONE, 0, 0)
        # retire slot 1: the last row moves in, n decrements; intake in the next cycle
        ctx.set(dut.allow, 0)
        ctx.set(dut.rd_addr, 3)
        await ctx.tick()
        last = ctx.get(dut.rd_data)
        ctx.set(dut.wr_en, 1)
        ctx.set(dut.wr_addr, 1)
        ctx.set(dut.wr_data, last)
        ctx.set(dut.pop, 1)
        await ctx.tick()
        ctx.set(dut.wr_en, 0)
        ctx.set(dut.pop, 0)
        assert ctx.get(dut.n_active) == 3
        ctx.set(dut.allow, 1)
        ctx.set(dut.wr_en, 1)                          # controller write blocks intake
        assert not ctx.get(dut.intake.ready)
        ctx.set(dut.wr_en, 0)
        assert ctx.get(dut.intake.ready)
        await ctx.tick()
        ctx.set(dut.intake.valid, 0)
        assert ctx.get(dut.n_active) == 4
        tags = []
        for slot in range(4):
            ctx.set(dut.rd_addr, slot)
            await ctx.tick()
            tags.append(ctx.get(dut.rd_data).tag)
        assert tags == [10, 13, 12, 14]

    run_sim(dut, tb)


# ---- LUT write port ---------------------------------------------------------------------------
def test_lut_write_port_equals_initial_contents():
    rng = np.random.default_rng(21)
    img = random_images(F.LutLayout(1, 1, 2), rng, n_layers=(1, 3))
    cfg = SchedulerConfig.for_images(img, num_slots=4)
    start = img.layout.variant_depth + img.layout.layer_depth
    reqs = [Request(tag=i, arrival=start + 3 * i, model_id=i & 1, pattern_id=(i >> 1) & 1,
                    deadline=start + 5000) for i in range(8)]
    plan = [(int(rng.integers(1, 80)), int(rng.integers(0, 999))) for _ in range(40)]
    rtl = simulate(cfg, img, reqs, plan, load_luts=True)
    model = BitExactScheduler(cfg, img).run(reqs, lambda k, d: plan[k])
    assert [(d.cycle, d.slot, d.layer) for d in rtl.decisions] == \
        [(d.cycle, d.slot, d.layer) for d in model.decisions]
    assert sorted(c.tag for c in rtl.completions) == list(range(8))


# ---- parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,msg", [
    ({"num_slots": 12}, "num_slots"), ({"num_slots": 512}, "num_slots"),
    ({"predictor": "median"}, "predictor"), ({"beta": -1}, "beta"),
    ({"time_width": 4}, "time_width"), ({"counter_init": 1 << 32}, "counter_init"),
])
def test_config_validation(kw, msg):
    with pytest.raises(ValueError, match=msg):
        SchedulerConfig(lut=F.LutLayout(1, 1, 2), **kw)


def test_until_helper_exported():
    assert callable(until)

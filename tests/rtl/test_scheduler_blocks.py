"""Scheduler blocks alone on directed cases: table/intake, predictor, score units, argmin,
run-time LUT/beta writes and their interlock."""

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, unsigned
from amaranth.sim import Simulator

from rtl.scheduler.harness import random_images, simulate, until
from rtl.scheduler.layouts import LUT_PARAM, PARAM_BETA, SchedulerConfig
from rtl.scheduler.policies import SCORE_UNITS
from rtl.scheduler.predictor import PRED_LATENCY, Predictor
from rtl.scheduler.score import Argmin
from rtl.scheduler.table import TaskTable
from rtl.scheduler.top import DystaScheduler
from sw_scheduler import formats as F
from sw_scheduler.bitexact import GAMMA_ONE, BitExactScheduler, predict, ratio_code
from sw_scheduler.hw_policies import HW_POLICIES, dysta_score
from sw_scheduler.records import Request
from sw_scheduler.timing import SCORE_LATENCIES, scan_overhead


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


def test_predict_busy_by_hand():
    """Busy cycles: gamma = measured / mean cycles of the executed layers (ratio of sums)."""
    recip = F.recip_table(9)
    inv1 = F.inv_busy_code(10_000)                    # mean cycles of layer 0: 10 000
    inv2 = F.inv_busy_code(30_000)                    # layers 0-1: 30 000
    g, s, c = predict("busy", GAMMA_ONE, 0, 0, 15_000, inv1, recip)
    assert (s, c) == (15_000, 0) and abs(g - round(1.5 * GAMMA_ONE)) <= 1
    g, s, c = predict("busy", g, s, c, 15_000, inv2, recip)      # 30 000 / 30 000
    assert s == 30_000 and abs(g - GAMMA_ONE) <= 1
    # a prefix too short for INV_BUSY: gamma kept, the cycles still counted
    assert F.inv_busy_code(1000) == 0
    assert predict("busy", 77, 5, 3, 50, 0, recip) == (77, 55, 3)
    # saturation of the sum and of gamma
    assert predict("busy", 1, F.BUSY_SUM.max_int - 1, 0, 9, F.INV_BUSY.max_int, recip) == (
        F.GAMMA.max_int, F.BUSY_SUM.max_int, 0)


# ---- predictor ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["mean", "last", "busy"])
def test_predictor(variant):
    rng = np.random.default_rng(3)
    recip = F.recip_table(17)
    smax = F.gamma_sum_format(variant).max_int
    cases = [(0, 0, GAMMA_ONE, 0, 0), (F.NNZ.max_int, F.INV_NNZ.max_int, 5, 9, 3),
             (123, 0, 77, 88, 2), (4000, 1 << 20, 1, smax - 3, 15),
             (70_000, F.inv_busy_code(50_000), 9, 0, 1)]
    cases += [(int(rng.integers(0, 1 << 32)), int(rng.integers(0, 1 << 32)),
               int(rng.integers(0, 1 << 16)), int(rng.integers(0, smax + 1)),
               int(rng.integers(0, 16))) for _ in range(40)]
    cases += [(int(rng.integers(0, 1 << 18)), int(rng.integers(1 << 26, 1 << 32)),
               int(rng.integers(0, 1 << 16)), int(rng.integers(0, 1 << 20)),
               int(rng.integers(0, 16))) for _ in range(20)]          # gamma in range
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


# ---- score units ---------------------------------------------------------------------------
def _entries(rng, cfg, t, n):
    """Rows and LUT words: field extremes first, then random values around ``t``."""
    tmod = cfg.time_mod
    fields = dict(cfg.row_layout)

    def stamp(r):
        kind = r.integers(4)
        if kind == 0:
            return int(r.integers(0, tmod))                   # anywhere (past the horizon)
        span = [300, 1 << 20, tmod >> 1][kind - 1]
        return (t + int(r.integers(-span, span))) % tmod

    out = []
    for i in range(n):
        ext = i < 6
        row = {k: (int(r.integers(0, 1 << f.width)) if not ext else (1 << f.width) - 1
                   if i % 2 else 0) for k, f in fields.items() if (r := rng) is not None}
        for k in ("deadline", "arrival", "last_run", "vstart"):
            if k in fields and not ext:
                row[k] = stamp(rng)
        if "priority" in fields:
            row["priority"] = int(rng.integers(3))
        rem = F.REM.max_int if ext and i % 2 else int(rng.integers(0, 1 << int(rng.integers(1, 33))))
        nrem = max(rem - int(rng.integers(-50, 1 << 20)), 0) if not ext else (0 if i % 2 else rem)
        kinv = F.KINV_ISO.max_int if ext and i % 2 else int(rng.integers(0, 1 << int(rng.integers(1, 33))))
        out.append((row, {"n_layers": 3, "kinv_iso": kinv}, {"rem": rem, "inv_nnz": 0},
                    {"rem": nrem & F.REM.max_int, "inv_nnz": 0}))
    return out


@pytest.mark.parametrize("policy,tw,beta", [(p, 32, 655) for p in HW_POLICIES]
                         + [("dysta", 32, F.BETA.max_int), ("dysta", 16, 1 << 16),
                            ("planaria", 16, 0), ("sdrm3", 16, 0), ("prema-sparse", 16, 0)])
def test_score_unit(policy, tw, beta):
    """Every unit equals its bit-exact key, with its SCORE_LATENCIES depth, under bubbles."""
    rng = np.random.default_rng(tw + beta + len(policy))
    tmod = 1 << tw
    t = tmod - 100                                     # decision time just before the wrap
    recip_n = F.recip_table(5)[3]
    cfg = SchedulerConfig(lut=F.LutLayout(1, 1, 2), time_width=tw, beta=beta, policy=policy,
                          kappa=700)
    pol = HW_POLICIES[policy]
    entries = _entries(rng, cfg, t, 80)
    expect = [pol.key(t=t, row=row, var=var, lay=lay, nxt=nxt, recip_n=recip_n, beta=beta,
                      kappa=cfg.kappa, time_width=tw, score_width=cfg.score_width)
              for row, var, lay, nxt in entries]
    dut = SCORE_UNITS[policy](cfg, unsigned(8))
    got, first_in = [], []

    async def feed(ctx):
        ctx.set(dut.t, t)
        ctx.set(dut.recip_n, recip_n)
        ctx.set(dut.beta, beta)
        for _ in range(3):                             # stable parameters, as in a SCAN
            await ctx.tick()
        for idx, (row, var, lay, nxt) in enumerate(entries):
            ctx.set(dut.i.payload, {"row": row, "var": var, "lay": lay, "nxt": nxt,
                                    "payload": idx})
            ctx.set(dut.i.valid, 1)
            if idx % 7 == 3:                           # a bubble now and then
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
                ctx.set(dut.i.valid, 1)
            if idx == 0:
                first_in.append(ctx.get(cycle))
            await ctx.tick()
        ctx.set(dut.i.valid, 0)

    cycle = Signal(32)

    async def sink(ctx):
        while len(got) < len(entries):
            _, _, v, p, c = await ctx.tick().sample(dut.o.valid, dut.o.payload, cycle)
            if v:
                if not got:
                    assert c - first_in[0] == SCORE_LATENCIES[policy]
                got.append((p.payload, p.key))

    m = Module()
    m.submodules.dut = dut
    m.d.sync += cycle.eq(cycle + 1)
    run_sim(m, feed, sink)
    assert got == list(enumerate(expect))
    assert len(set(expect)) > 20                      # the keys differ


def test_dysta_score_saturates():
    """Dysta's score reaches its maximum and 0 among the extremes."""
    cfg = SchedulerConfig(lut=F.LutLayout(1, 1, 2), beta=F.BETA.max_int)
    mx = {"deadline": 0, "last_run": (1 << 32) - (1 << 30), "gamma": F.GAMMA.max_int}
    kw = {"recip_n": 1 << 16, "beta": cfg.beta, "time_width": 32, "score_width": 40}
    assert dysta_score(t=0, row=mx, var={"kinv_iso": F.KINV_ISO.max_int},
                       lay={"rem": F.REM.max_int}, **kw) == (1 << 40) - 1
    assert dysta_score(t=5, row={"deadline": 5, "last_run": 5, "gamma": 0},
                       var={"kinv_iso": 0}, lay={"rem": 0}, **kw) == 0


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
    cfg = SchedulerConfig(lut=F.LutLayout(1, 1, 2), num_slots=4, policy="planaria")
    dut = TaskTable(cfg)
    reqs = [{"tag": 10 + i, "model": i & 1, "pattern": 1, "deadline": 1000 * i,
             "priority": i % 3} for i in range(6)]

    async def tb(ctx):
        ctx.set(dut.now, 77)
        ctx.set(dut.intake.valid, 1)
        ctx.set(dut.intake.payload, reqs[0])
        assert ctx.get(dut.intake.ready)               # open after reset (IDLE, empty)
        ctx.set(dut.intake.valid, 0)
        await ctx.tick()                               # open_next low: closed from now on
        ctx.set(dut.intake.valid, 1)
        assert not ctx.get(dut.intake.ready)
        await ctx.tick()
        assert ctx.get(dut.n_active) == 0              # nothing taken
        ctx.set(dut.open_next, 1)
        await ctx.tick()
        for i, r in enumerate(reqs[:4]):
            ctx.set(dut.intake.payload, r)
            ctx.set(dut.now, 100 + i)
            assert ctx.get(dut.intake.ready)
            await ctx.tick()
        assert ctx.get(dut.n_active) == 4
        ctx.set(dut.intake.payload, reqs[4])
        for _ in range(3):                             # full: held off, never dropped
            assert not ctx.get(dut.intake.ready)
            await ctx.tick()
        assert ctx.get(dut.n_active) == 4
        ctx.set(dut.intake.valid, 0)
        for slot in range(4):
            ctx.set(dut.rd_addr, slot)
            await ctx.tick()
            row = ctx.get(dut.rd_data)
            assert (row.tag, row.model, row.deadline, row.priority) == (
                10 + slot, slot & 1, 1000 * slot, slot % 3)
            assert (row.arrival, row.layer) == (100 + slot, 0)
        # retire slot 1: the last row moves in, n decrements; intake reopens next cycle
        ctx.set(dut.open_next, 0)
        ctx.set(dut.rd_addr, 3)
        await ctx.tick()
        last = ctx.get(dut.rd_data)
        ctx.set(dut.wr_en, 1)
        ctx.set(dut.wr_addr, 1)
        ctx.set(dut.wr_data, last)
        ctx.set(dut.pop, 1)
        ctx.set(dut.open_next, 1)
        await ctx.tick()
        ctx.set(dut.wr_en, 0)
        ctx.set(dut.pop, 0)
        assert ctx.get(dut.n_active) == 3 and ctx.get(dut.intake.ready)
        ctx.set(dut.intake.valid, 1)
        await ctx.tick()
        ctx.set(dut.intake.valid, 0)
        assert ctx.get(dut.n_active) == 4 and not ctx.get(dut.intake.ready)
        tags = []
        for slot in range(4):
            ctx.set(dut.rd_addr, slot)
            await ctx.tick()
            tags.append(ctx.get(dut.rd_data).tag)
        assert tags == [10, 13, 12, 14]

    run_sim(dut, tb)


def test_row_layout_holds_only_what_the_policy_reads():
    lay = F.LutLayout(1, 1, 2)
    fcfs = dict(SchedulerConfig(lut=lay, policy="fcfs").row_layout)
    dysta = dict(SchedulerConfig(lut=lay, policy="dysta").row_layout)
    assert set(fcfs) == {"tag", "model", "pattern", "layer", "arrival"}
    assert {"gamma", "gamma_sum", "count", "deadline", "last_run"} <= set(dysta)
    assert "arrival" not in dysta and "priority" not in dysta


# ---- LUT write port ---------------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["dysta", "prema"])
def test_lut_and_beta_writes_equal_initial_contents(policy):
    """LUTs and a run-time beta written through ``lut_w`` give the model's decisions with
    those images and that beta."""
    rng = np.random.default_rng(21)
    img = random_images(F.LutLayout(1, 1, 2), rng, n_layers=(1, 3))
    beta = F.BETA.quantize(0.7)[0]
    cfg = SchedulerConfig.for_images(img, num_slots=4, policy=policy, kappa=3000)
    start = img.layout.variant_depth + img.layout.layer_depth + 1
    reqs = [Request(tag=i, arrival=start + 3 * i, model_id=i & 1, pattern_id=(i >> 1) & 1,
                    deadline=start + 5000) for i in range(8)]
    plan = [(int(rng.integers(1, 80)), int(rng.integers(0, 999))) for _ in range(40)]
    rtl = simulate(cfg, img, reqs, plan, load_luts=True, beta=beta)
    model = BitExactScheduler(dataclasses.replace(cfg, beta=beta), img).run(
        reqs, lambda k, d: plan[k])
    assert [(d.cycle, d.slot, d.layer) for d in rtl.decisions] == \
        [(d.cycle, d.slot, d.layer) for d in model.decisions]
    assert sorted(c.tag for c in rtl.completions) == list(range(8))


def test_lut_writes_wait_while_scanning():
    """``lut_w.ready`` is low from the cycle after an IDLE accept (SCAN, CMD) until RUN, then
    the pending word goes in."""
    rng = np.random.default_rng(4)
    img = random_images(F.LutLayout(1, 1, 2), rng, n_layers=(2, 3))
    cfg = SchedulerConfig.for_images(img, num_slots=4)
    dut = DystaScheduler(cfg, img)
    seen = {}

    async def tb(ctx):
        ctx.set(dut.requests.payload, {"tag": 1, "deadline": 10_000})
        ctx.set(dut.requests.valid, 1)
        assert ctx.get(dut.requests.ready) and ctx.get(dut.lut_w.ready)
        await ctx.tick()                                  # accepted: SCAN follows
        ctx.set(dut.requests.valid, 0)
        ctx.set(dut.lut_w.payload, {"table": LUT_PARAM, "addr": PARAM_BETA, "data": 12345})
        ctx.set(dut.lut_w.valid, 1)
        waited = 0
        while not ctx.get(dut.lut_w.ready):
            assert not ctx.get(dut.requests.ready)
            waited += 1
            await ctx.tick()
        seen["waited"], seen["resp_ready"] = waited, ctx.get(dut.npu_resp.ready)

    async def npu(ctx):
        ctx.set(dut.npu_cmd.ready, 1)

    run_sim(dut, tb, npu)
    assert seen["waited"] == 1 + scan_overhead("dysta") + 1     # SCAN with n = 1, CMD
    assert seen["resp_ready"]                                   # in RUN


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

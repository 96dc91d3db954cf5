"""Whole scheduler RTL vs the bit-exact model, every hardware policy: every decision, accept
and completion, on random, back-pressure and real-trace stimuli."""

import numpy as np
import pytest

from rtl.scheduler.harness import random_images, simulate
from rtl.scheduler.layouts import SchedulerConfig
from sw_scheduler.bitexact import BitExactScheduler
from sw_scheduler.formats import BETA, NNZ, LutLayout, inv_field
from sw_scheduler.hw_policies import HW_POLICIES
from sw_scheduler.records import Request
from sw_scheduler.timing import SCAN_OVERHEAD

POLICIES = list(HW_POLICIES)
from tests.support.stimulus import make_plan, make_requests


def run_both(cfg, img, reqs, plan, **kw):
    model = BitExactScheduler(cfg, img).run(reqs, lambda k, d: plan[k])
    rtl = simulate(cfg, img, reqs, plan, **kw)
    return model, rtl


def assert_identical(model, rtl, reqs):
    assert rtl.accepts == model.accepts
    assert len(rtl.decisions) == len(model.decisions)
    for k, (a, b) in enumerate(zip(model.decisions, rtl.decisions)):
        key_m = (a.cycle, a.slot, a.model, a.pattern, a.layer, a.n_active)
        key_r = (b.cycle, b.slot, b.model, b.pattern, b.layer, b.n_active)
        assert key_r == key_m, f"decision {k}: rtl {key_r} != model {key_m}"
    got = [(c.tag, c.cycle, c.finish) for c in rtl.completions]
    assert got == [(c.tag, c.cycle, c.finish) for c in model.completions]
    # conservation: every accepted request completes exactly once
    tags = sorted(c.tag for c in rtl.completions)
    assert tags == sorted(r.tag for r in reqs) == sorted(t for t, _ in rtl.accepts)


@pytest.mark.parametrize("seed,slots,predictor,lut,beta", [
    (1, 4, "mean", (1, 1, 3), 0.01),
    (2, 8, "last", (2, 1, 3), 0.5),
    (3, 16, "mean", (1, 2, 4), 1.0),
    (4, 8, "busy", (1, 2, 4), 1.0),
])
def test_random_streams(seed, slots, predictor, lut, beta):
    rng = np.random.default_rng(seed)
    img = random_images(LutLayout(*lut), rng, n_layers=(1, 6), kinv_max=1 << 14,
                        inv_field=inv_field(predictor))
    cfg = SchedulerConfig.for_images(img, num_slots=slots, predictor=predictor,
                                     beta=BETA.quantize(beta)[0])
    reqs = make_requests(rng, cfg, 40, gap=(0, 250), slo=(-2000, 150_000))
    plan = make_plan(rng, 400)
    model, rtl = run_both(cfg, img, reqs, plan)
    assert_identical(model, rtl, reqs)
    # the stream actually queued work: several decisions chose among >1 entries
    assert max(d.n_active for d in model.decisions) >= min(slots, 3)
    assert len({d.slot for d in model.decisions}) > 1


def _policy_case(policy):
    rng = np.random.default_rng(31)
    img = random_images(LutLayout(1, 2, 4), rng, n_layers=(1, 6), kinv_max=1 << 14)
    cfg = SchedulerConfig.for_images(img, num_slots=8, policy=policy, kappa=2000,
                                     beta=BETA.quantize(0.5)[0])
    reqs = make_requests(rng, cfg, 24, gap=(0, 120), slo=(-2000, 60_000))
    return cfg, img, reqs, make_plan(rng, 300)


@pytest.mark.parametrize("policy", POLICIES)
def test_policy_random_stream(policy):
    """Each policy on a queueing stream (up to 8 waiting requests)."""
    cfg, img, reqs, plan = _policy_case(policy)
    model, rtl = run_both(cfg, img, reqs, plan)
    assert_identical(model, rtl, reqs)
    assert max(d.n_active for d in model.decisions) >= 5


def test_policies_decide_differently():
    """The stimulus above tells the policies apart: at least seven different orders."""
    orders = set()
    for policy in POLICIES:
        cfg, img, reqs, plan = _policy_case(policy)
        res = BitExactScheduler(cfg, img).run(reqs, lambda k, d, plan=plan: plan[k])
        orders.add(tuple(d.tag for d in res.decisions))
    assert len(orders) >= 7


@pytest.mark.parametrize("policy", POLICIES)
def test_full_table_backpressure(policy):
    rng = np.random.default_rng(7)
    img = random_images(LutLayout(1, 1, 3), rng, n_layers=(2, 5))
    cfg = SchedulerConfig.for_images(img, num_slots=4, policy=policy)
    reqs = make_requests(rng, cfg, 14, gap=(0, 2))       # a burst: 14 requests, 4 slots
    plan = make_plan(rng, 200, lat=(20, 120))
    model, rtl = run_both(cfg, img, reqs, plan)
    assert_identical(model, rtl, reqs)
    assert max(d.n_active for d in rtl.decisions) == 4
    waited = [a - r.arrival for (_, a), r in zip(rtl.accepts, reqs)]
    assert max(waited) > 100      # held off while full, not dropped


def test_simultaneous_arrival_and_completion():
    rng = np.random.default_rng(11)
    img = random_images(LutLayout(1, 1, 2), rng, n_layers=(1, 1))   # every request: 1 layer
    cfg = SchedulerConfig.for_images(img, num_slots=4)
    lat = 37
    plan = [(lat, 100)] * 10
    first = Request(tag=0, arrival=5, model_id=0, pattern_id=0, deadline=10_000)
    # the first decision comes n + SCAN_OVERHEAD after the SCAN that follows the accept
    t_done = 5 + 1 + 1 + SCAN_OVERHEAD + lat
    second = Request(tag=1, arrival=t_done, model_id=1, pattern_id=1, deadline=10_000)
    reqs = [first, second]
    model, rtl = run_both(cfg, img, reqs, plan)
    assert_identical(model, rtl, reqs)
    assert rtl.decisions[0].cycle + lat == t_done
    assert rtl.accepts[1] == (1, t_done)                 # accepted in the response cycle
    assert rtl.completions[0].finish_cycle == t_done     # ... which retires the first


@pytest.mark.parametrize("policy", ["dysta", "prema", "sdrm3"])
def test_deadline_past_and_counter_wrap(policy):
    rng = np.random.default_rng(5)
    img = random_images(LutLayout(1, 1, 3), rng, n_layers=(2, 6))
    cfg = SchedulerConfig.for_images(img, num_slots=8, counter_init=(1 << 32) - 3000,
                                     policy=policy)
    reqs = make_requests(rng, cfg, 24, gap=(0, 300), slo=(-50_000, 3000))
    plan = make_plan(rng, 300, lat=(1, 200))
    model, rtl = run_both(cfg, img, reqs, plan)
    assert_identical(model, rtl, reqs)
    assert rtl.end_cycle > 3000                                  # the counter wrapped
    assert any(c.finish < 3000 for c in rtl.completions)


@pytest.mark.parametrize("policy", ["dysta", "planaria", "fcfs"])
def test_narrow_time_width_wrap(policy):
    rng = np.random.default_rng(9)
    img = random_images(LutLayout(1, 1, 3), rng, n_layers=(1, 4))
    cfg = SchedulerConfig.for_images(img, num_slots=4, time_width=16,
                                     counter_init=(1 << 16) - 500, policy=policy)
    reqs = make_requests(rng, cfg, 16, gap=(0, 200), slo=(-1000, 8000))
    plan = make_plan(rng, 200, lat=(1, 150))
    model, rtl = run_both(cfg, img, reqs, plan)
    assert_identical(model, rtl, reqs)


def test_lut_saturation():
    rng = np.random.default_rng(13)
    img = random_images(LutLayout(1, 1, 3), rng, n_layers=(2, 6), rem_max=1 << 30,
                        saturate=True)
    cfg = SchedulerConfig.for_images(img, num_slots=8, beta=(1 << 24) - 1)
    reqs = make_requests(rng, cfg, 24, gap=(0, 200))
    plan = make_plan(rng, 300, lat=(1, 100), nnz_max=NNZ.max_int + 1)
    model, rtl = run_both(cfg, img, reqs, plan)
    assert_identical(model, rtl, reqs)


@pytest.mark.parametrize("policy", ["dysta", "sjf-sparse"])
def test_cmd_backpressure_conserves(policy):
    """NPU holding off commands: the model assumes a ready NPU, so check conservation only."""
    rng = np.random.default_rng(17)
    img = random_images(LutLayout(1, 1, 3), rng, n_layers=(1, 4))
    cfg = SchedulerConfig.for_images(img, num_slots=4, policy=policy)
    reqs = make_requests(rng, cfg, 12, gap=(0, 100))
    plan = make_plan(rng, 200, lat=(1, 60))
    rtl = simulate(cfg, img, reqs, plan, cmd_stall=lambda k: k % 3)
    assert sorted(c.tag for c in rtl.completions) == list(range(12))
    n_layers = [img.variant_entry(r.model_id, r.pattern_id)["n_layers"] for r in reqs]
    assert len(rtl.decisions) == sum(n_layers)


@pytest.mark.parametrize("policy", POLICIES)
def test_static_images_from_fixture_workload(policy):
    """LUTs built by the static level from traces; NPU latencies scaled down 1/64."""
    from sim.workload import load_workload

    wl = load_workload("fixture_small")
    tables = wl.static_tables()
    img = tables.to_lut_images()
    cfg = SchedulerConfig.for_images(img, num_slots=4, policy=policy)
    wreqs = wl.requests(n=10, seed=1, tables=tables)
    t0 = wreqs[0].arrival
    reqs = [Request(tag=q.tag, arrival=(q.arrival - t0) // 64, model_id=q.model_id,
                    pattern_id=q.pattern_id, deadline=(q.deadline - t0) // 64 % cfg.time_mod,
                    priority=q.priority) for q in wreqs]
    by_tag = {q.tag: q for q in wreqs}
    plan = []
    model = BitExactScheduler(cfg, img).run(reqs, lambda k, d: plan.append(
        (max(1, by_tag[d.tag].cycles[d.layer] // 64), by_tag[d.tag].out_nnz[d.layer]))
        or plan[-1])
    rtl = simulate(cfg, img, reqs, plan)
    assert_identical(model, rtl, reqs)

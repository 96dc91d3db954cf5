"""cocotb test of the exported scheduler (``dysta_scheduler``) against the bit-exact model.

``exact_vs_bitexact``: requests offered from their cycles, an NPU stub answering command
``k`` after ``plan[k] = (latency, nnz)``, completions always taken; every accept, every
decision (cycle, slot, model, pattern, layer, n_active) and every completion (tag, cycle,
finish) must equal :class:`sw_scheduler.bitexact.BitExactScheduler`'s.
``backpressure_conserves``: the NPU and the host stall at random (seeded pause
generators); the model assumes neither, so the checks are conservation and per-request
layer order. Case parameters come in ``TB_CASE`` (see ``sched_case.Case``); with
``load_luts`` the LUT images and beta go in through ``lut_w`` (which has a ``ready``).
"""

import os
from collections import Counter

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from rtl.scheduler.harness import lut_words
from sw_scheduler.bitexact import BitExactScheduler, encode_request
from tests.support.sched_case import Case
from tests.support.tbkit import TB, StreamSink, StreamSource, pauses, wait_len


class NpuStub:
    """Takes ``npu_cmd`` (ready unless busy or paused), answers ``plan[k]`` after its
    latency on ``npu_resp``; records ``(cycle, payload fields, n_active)`` per command."""

    def __init__(self, tb: TB, cfg, plan, pause=None):
        self.tb, self.cfg, self.plan, self.pause = tb, cfg, plan, pause
        d = tb.dut
        self.cmd_valid, self.cmd_ready = d.npu_cmd__valid, d.npu_cmd__ready
        self.cmd_payload = d.npu_cmd__payload
        self.resp_valid, self.resp_ready = d.npu_resp__valid, d.npu_resp__ready
        self.resp_payload = d.npu_resp__payload
        self.decisions = []
        self.stalls = 0          # cycles a valid command waited on a paused stub
        self.cmd_ready.value = 0
        self.resp_valid.value = 0

    async def run(self):
        due = None
        d = self.tb.dut
        while True:
            await FallingEdge(d.clk)
            c = self.tb.cycle
            busy = due is not None
            take = not busy and (self.pause is None or not next(self.pause))
            self.cmd_ready.value = int(take)
            answer = busy and c >= due[0]
            self.resp_valid.value = int(answer)
            if answer:
                self.resp_payload.value = self.cfg.pack(self.cfg.response_layout,
                                                        {"nnz": due[1]})
            await ReadOnly()
            self.stalls += not busy and not take and int(self.cmd_valid.value)
            if take and int(self.cmd_valid.value):
                f = self.cfg.unpack(self.cfg.command_layout, int(self.cmd_payload.value))
                now = (int(d.now.value) - self.cfg.counter_init) % self.cfg.time_mod
                assert now == c % self.cfg.time_mod, f"cycle count {c} vs now-based {now}"
                self.decisions.append((c, f["slot"], f["model"], f["pattern"], f["layer"],
                                       int(d.n_active.value)))
                lat, nnz = self.plan[len(self.decisions) - 1]
                due = (c + lat, nnz)
            elif answer and int(self.resp_ready.value):
                due = None


async def setup(dut, case: Case, p_npu: float, p_host: float):
    cfg, img, reqs, plan = case.build()
    tb = TB(dut)
    await tb.start()
    src = StreamSource(tb, "requests")
    lut = StreamSource(tb, "lut_w")
    npu = NpuStub(tb, cfg, plan, pause=pauses(case.seed + 1, p_npu) if p_npu else None)
    host = StreamSink(tb, "completions",
                      pause=pauses(case.seed + 2, p_host) if p_host else None)
    if case.load_luts:        # the DUT starts with empty LUTs and beta 0
        for table, addr, w in lut_words(img, cfg.beta):
            lut.put(cfg.pack(cfg.lut_write_layout, {"table": table, "addr": addr, "data": w}))
    for r in reqs:
        src.put(cfg.pack(cfg.request_layout, {
            **encode_request(r, cfg.time_width)}), at_cycle=r.arrival)
    for part in (src, lut, npu, host):
        cocotb.start_soon(part.run())
    await wait_len(tb, host.received, len(reqs), 2_000_000, "every completion")
    if case.load_luts:
        assert lut.sent[-1][0] < reqs[0].arrival, "LUT load overlapped the first request"
    return cfg, img, reqs, plan, src, npu, host


def completions(cfg, host):
    return [(f["tag"], c, f["finish"]) for c, f in
            ((c, cfg.unpack(cfg.completion_layout, w)) for c, w in host.received)]


@cocotb.test()
async def exact_vs_bitexact(dut):
    case = Case.from_env(os.environ["TB_CASE"])
    cfg, img, reqs, plan, src, npu, host = await setup(dut, case, 0.0, 0.0)
    model = BitExactScheduler(cfg, img).run(reqs, lambda k, d: plan[k])
    tags = [r.tag for r in reqs]
    accepts = [(tags[i], c) for i, (c, _) in enumerate(src.sent)]
    assert accepts == model.accepts, "request accept cycles differ from the model"
    want = [(d.cycle, d.slot, d.model, d.pattern, d.layer, d.n_active)
            for d in model.decisions]
    assert len(npu.decisions) == len(want), f"{len(npu.decisions)} decisions, model {len(want)}"
    for k, (got, exp) in enumerate(zip(npu.decisions, want)):
        assert got == exp, f"decision {k}: verilog {got} != model {exp}"
    assert completions(cfg, host) == [(c.tag, c.cycle, c.finish) for c in model.completions]
    assert sorted(t for t, _, _ in completions(cfg, host)) == sorted(tags)
    assert max(d[5] for d in npu.decisions) >= min(case.slots, 3), "table never filled up"
    dut._log.info("%d requests, %d decisions, %d completions identical to the model",
                  len(reqs), len(want), len(model.completions))


@cocotb.test()
async def backpressure_conserves(dut):
    case = Case.from_env(os.environ["TB_CASE"])
    cfg, img, reqs, _, _, npu, host = await setup(dut, case, 0.3, 0.5)
    done = completions(cfg, host)
    assert sorted(t for t, _, _ in done) == sorted(r.tag for r in reqs), "lost or repeated"
    # every request ran each of its layers exactly once: per (model, pattern, layer), the
    # commands equal the requests of that variant that have the layer
    want, got = Counter(), Counter()
    for r in reqs:
        for layer in range(img.variant_entry(r.model_id, r.pattern_id)["n_layers"]):
            want[r.model_id, r.pattern_id, layer] += 1
    for _, _, model, pattern, layer, _ in npu.decisions:
        got[model, pattern, layer] += 1
    assert got == want, "layer commands differ from the requests' layers"
    assert host.stalls > 0 and npu.stalls > 0, "back-pressure was never applied"

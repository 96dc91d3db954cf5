"""cocotb test of the exported system top (``dysta_top``): scheduler -> descriptor lookup ->
datapath -> scheduler, on the ``make verilog`` build (default LUT images).

The host writes three layers' tensors through ``load`` and a descriptor per
(model, pattern, layer) through ``desc_w`` (layer ``(m + p + l) % 3``), then offers seeded
requests. The bit-exact scheduler model, with the NPU answering each command after
``layer_cycles`` of its layer with the numpy reference's non-zero count, must give every
decision (cycle, slot, model, pattern, layer) and every completion; the ``out`` stream
must be the reference output of each commanded layer, in command order. Environment:
``TB_SEED``, ``TB_SLOTS``, ``TB_LANES``, ``TB_PARAMS`` (JSON header parameters).
"""

import json
import os
from types import SimpleNamespace

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly

from rtl.accelerator.cycle_model import mask_cycles
from rtl.accelerator.layouts import Activation, load_layout, out_layout
from rtl.accelerator.reference import LayerData, layer_reference, out_entries
from rtl.export import default_lut_images
from rtl.scheduler.layouts import SchedulerConfig
from sw_scheduler.bitexact import BitExactScheduler, encode_request
from tests.support.stimulus import make_requests, place_commands
from tests.support.stimulus import rand_int8 as _rand
from tests.support.tbkit import TB, StreamSink, StreamSource, wait_len


@cocotb.test()
async def system_vs_models(dut):
    seed, slots = int(os.environ["TB_SEED"]), int(os.environ["TB_SLOTS"])
    lanes = int(os.environ["TB_LANES"])
    params = json.loads(os.environ["TB_PARAMS"])
    rng = np.random.default_rng(seed)
    k = params["max_k"]                     # the longest reduction the engine takes
    layers = [LayerData(_rand(rng, (4, k), z), _rand(rng, (k, lanes + 3), wz), shift=sh,
                        act=act)
              for z, wz, sh, act in ((0.3, 0.0, 8, Activation.RELU),
                                     (0.8, 0.5, 6, Activation.IDENTITY),
                                     (0.6, 0.2, 9, Activation.RELU))]
    engine = SimpleNamespace(lanes=lanes, max_k=params["max_k"],
                             depths={k: params[k] for k in ("x_rows", "w_words", "live_words")})
    loads, descs = place_commands(engine, layers)
    img = default_lut_images()
    cfg = SchedulerConfig.for_images(img, num_slots=slots)
    lay = cfg.lut

    def which(m, p, layer):
        return (m + p + layer) % len(layers)

    tb = TB(dut)
    await tb.start()
    ll = load_layout(lanes=lanes, max_k=params["max_k"])
    load, desc_w = StreamSource(tb, "load"), StreamSource(tb, "desc_w")
    for buf, addr, v in loads:
        load.put(ll.const({"buf": buf, "addr": addr, "data": v}).as_bits())
    for m in range(1 << lay.model_bits):
        for p in range(1 << lay.pattern_bits):
            for layer in range(lay.max_layers):
                a = lay.layer_addr(m, p, layer)
                desc_w.put((descs[which(m, p, layer)] << (cfg.lut_addr_width or 1)) | a)
    first = max(len(loads), lay.layer_depth) + 8
    reqs = make_requests(rng, cfg, 10, gap=(0, 600), slo=(-2000, 60_000), first=first)
    req = StreamSource(tb, "requests")
    for r in reqs:
        req.put(cfg.pack(cfg.request_layout, {
            **encode_request(r, cfg.time_width)}), at_cycle=r.arrival)
    host = StreamSink(tb, "completions")
    out = StreamSink(tb, "out")
    for part in (load, desc_w, req, host, out):
        cocotb.start_soon(part.run())

    # monitor the scheduler's NPU commands inside the top (hierarchical handles)
    decisions = []

    async def watch_cmds():
        s = dut.sched
        while True:
            await FallingEdge(dut.clk)
            await ReadOnly()
            if int(s.npu_cmd__valid.value) and int(s.npu_cmd__ready.value):
                f = cfg.unpack(cfg.command_layout, int(s.npu_cmd__payload.value))
                decisions.append((tb.cycle, f["slot"], f["model"], f["pattern"], f["layer"],
                                  int(dut.n_active.value)))
    cocotb.start_soon(watch_cmds())
    await wait_len(tb, host.received, len(reqs), 1_000_000, "every completion")
    assert load.sent[-1][0] < first and desc_w.sent[-1][0] < first

    def npu(k, d):
        ly = layers[which(d.model, d.pattern, d.layer)]
        lat = mask_cycles(ly.x != 0, ly.w != 0, lanes)
        return lat, int(np.count_nonzero(layer_reference(ly)))

    model = BitExactScheduler(cfg, img).run(reqs, npu)
    want = [(d.cycle, d.slot, d.model, d.pattern, d.layer, d.n_active)
            for d in model.decisions]
    assert len(decisions) == len(want), f"{len(decisions)} decisions, model {len(want)}"
    for k, (got, exp) in enumerate(zip(decisions, want)):
        assert got == exp, f"decision {k}: verilog {got} != model {exp}"
    got_c = [(cfg.unpack(cfg.completion_layout, w)["tag"], c) for c, w in host.received]
    assert got_c == [(c.tag, c.cycle) for c in model.completions]
    expect_out = []
    for d in model.decisions:
        expect_out += out_entries(layer_reference(layers[which(d.model, d.pattern, d.layer)]),
                                  lanes)
    got_out = []
    o_layout = out_layout(lanes)
    for _, w in out.received:
        e = o_layout.from_bits(w)
        got_out.append((tuple(int(v) for v in e.values), e.nz, e.col, e.last))
    assert got_out == expect_out, "output stream differs from the reference layers"
    assert len({which(d.model, d.pattern, d.layer) for d in model.decisions}) == len(layers)
    dut._log.info("%d requests, %d layer runs identical to the models", len(reqs),
                  len(decisions))

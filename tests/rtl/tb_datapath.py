"""cocotb test of the exported datapath (``dysta_datapath``): tensors vs the numpy
reference, cycles vs the cycle model.

Stimulus: the seeded layer generators of ``tests/test_datapath_engine.py`` plus a few
multi-pass / grouped / conv / attention layers. Environment: ``TB_SEED``, ``TB_LANES``,
``TB_DEPTHS`` (JSON: max_k and the buffer depths of the export), ``TB_OUT_PAUSE``
(probability of a stall on ``out.ready``; 0 = exact cycle check).
"""

import json
import os
from types import SimpleNamespace

import cocotb
import numpy as np

from rtl.accelerator.cycle_model import mask_cycles
from rtl.accelerator.harness import layer_command, layer_loads
from rtl.accelerator.layouts import (
    CMD_LAYOUT,
    RESP_LAYOUT,
    Activation,
    Kind,
    load_layout,
    out_layout,
)
from rtl.accelerator.reference import (
    LayerData,
    conv_layer,
    decode_entries,
    layer_reference,
    out_entries,
)
from tests.support.stimulus import density_layers as _density_layers
from tests.support.stimulus import rand_int8 as _rand
from tests.support.tbkit import TB, StreamSink, StreamSource, pauses, wait_len, wait_until


def extra_layers(rng, lanes):
    """Layers spanning several column passes, groups, conv and attention."""
    conv = conv_layer(_rand(rng, (3, 6, 6), 0.5), _rand(rng, (lanes + 3, 3, 3, 3), 0.0),
                      stride=1, pad=1, shift=9)
    scores = np.maximum(_rand(rng, (2, 5, 9), 0.0), 0)
    scores[scores < 90] = 0
    attention = LayerData(scores, _rand(rng, (2, 9, 12), 0.0), shift=7,
                          act=Activation.IDENTITY)
    wide = LayerData(_rand(rng, (4, 40), 0.6), _rand(rng, (40, 2 * lanes + 5), 0.3), shift=8)
    pruned = LayerData(_rand(rng, (6, 30), 0.3), _rand(rng, (30, lanes + 1), 0.75), shift=7)
    return [(conv, Kind.CONV), (attention, Kind.ATTENTION), (wide, Kind.FC), (pruned, Kind.FC)]


@cocotb.test()
async def layers_match_reference_and_cycle_model(dut):
    seed = int(os.environ["TB_SEED"])
    lanes = int(os.environ["TB_LANES"])
    dims = json.loads(os.environ["TB_DEPTHS"])
    p_out = float(os.environ.get("TB_OUT_PAUSE", "0"))
    engine = SimpleNamespace(lanes=lanes, max_k=dims.pop("max_k"), depths=dims)
    rng = np.random.default_rng(seed)
    plan = [(ly, Kind.FC) for ly in _density_layers(rng)] + extra_layers(rng, lanes)
    layout = load_layout(lanes=lanes, max_k=engine.max_k)
    o_layout = out_layout(lanes)

    tb = TB(dut)
    await tb.start()
    load = StreamSource(tb, "load")
    cmd = StreamSource(tb, "cmd")
    out = StreamSink(tb, "out", pause=pauses(seed, p_out) if p_out else None)
    resp = StreamSink(tb, "resp")
    for part in (load, cmd, out, resp):
        cocotb.start_soon(part.run())

    slow = 0
    for i, (ly, kind) in enumerate(plan):
        for buf, addr, value in layer_loads(engine, ly):
            load.put(layout.const({"buf": buf, "addr": addr, "data": value}).as_bits())
        await wait_until(tb, lambda: load.idle and not int(load.valid.value), 100_000,
                         f"layer {i} loads")
        first_out, n_sent = len(out.received), len(cmd.sent)
        cmd.put(CMD_LAYOUT.const(layer_command(ly, tag=i, kind=kind)).as_bits())
        await wait_len(tb, resp.received, len(resp.received) + 1, 200_000, f"layer {i} done")
        assert len(cmd.sent) == n_sent + 1
        c_cmd = cmd.sent[-1][0]
        c_resp, word = resp.received[-1]
        r = RESP_LAYOUT.from_bits(word)
        entries = []
        for _, w in out.received[first_out:]:
            e = o_layout.from_bits(w)
            entries.append((tuple(int(v) for v in e.values), e.nz, e.col, e.last))
        y = layer_reference(ly)
        s = ly.shape
        assert r.tag == i, f"layer {i}: response tag {r.tag}"
        assert entries == out_entries(y, lanes), f"layer {i}: output stream differs"
        assert np.array_equal(decode_entries(entries, s["groups"], s["M"], s["N"], lanes), y)
        assert r.nnz == int(np.count_nonzero(y)), f"layer {i}: nnz {r.nnz}"
        cycles = c_resp - c_cmd + 1
        model = mask_cycles(ly.x != 0, ly.w != 0, lanes)
        if p_out == 0:
            assert cycles == model, f"layer {i}: verilog {cycles} cycles != model {model}"
        else:
            assert cycles >= model, f"layer {i}: verilog {cycles} cycles < model {model}"
            slow += cycles > model
        dut._log.info("layer %d %s: %d cycles (model %d), nnz %d", i, kind.name, cycles,
                      model, r.nnz)
    if p_out:
        assert slow > 0, "back-pressure on out never slowed a layer"

"""The exported datapath under cocotb (Icarus, and Verilator for one configuration)."""

import json

import pytest

from rtl.export import build, write_verilog
from tests.support.cocotb_launch import run_cocotb

TB_MAX_K = 64   # the stimulus has reductions up to K = 40 (wider than the default build)


@pytest.mark.parametrize("sim,lanes,out_pause", [
    ("icarus", 16, 0.0),
    ("icarus", 8, 0.4),
    ("verilator", 16, 0.0),
])
def test_datapath(sim, lanes, out_pause, tmp_path):
    comp, name, params = build("datapath", lanes=lanes, max_k=TB_MAX_K)
    tag = f"datapath_p{lanes}_{sim}_{int(out_pause * 100)}"
    v = write_verilog(comp, name, tmp_path / tag / f"{name}.v", params)
    depths = {k: params[k] for k in ("max_k", "x_rows", "w_words", "live_words")}
    run_cocotb(sim=sim, sources=[v], toplevel=name, module="tests.rtl.tb_datapath",
               build_dir=tmp_path / tag / "sim",
               extra_env={"TB_SEED": lanes + 100 * int(out_pause * 10), "TB_LANES": lanes,
                          "TB_DEPTHS": json.dumps(depths), "TB_OUT_PAUSE": out_pause})

"""The exported system top (``make verilog`` build) under cocotb (Icarus)."""

import json

from rtl.export import build, write_verilog
from tests.support.cocotb_launch import run_cocotb


def test_top_icarus(tmp_path):
    slots, lanes = 8, 8
    comp, name, params = build("top", slots=slots, lanes=lanes)
    tag = f"top_s{slots}_p{lanes}_icarus"
    v = write_verilog(comp, name, tmp_path / tag / f"{name}.v", params)
    run_cocotb(sim="icarus", sources=[v], toplevel=name, module="tests.rtl.tb_top",
               build_dir=tmp_path / tag / "sim",
               extra_env={"TB_SEED": 31, "TB_SLOTS": slots, "TB_LANES": lanes,
                          "TB_PARAMS": json.dumps(params)})

"""The exported system top (``make verilog`` build) under cocotb (Icarus)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "cocotb"))
from launch import run_cocotb

from rtl.export import build, write_verilog


def test_top_icarus(tmp_path):
    slots, lanes = 8, 8
    comp, name, params = build("top", slots=slots, lanes=lanes)
    tag = f"top_s{slots}_p{lanes}_icarus"
    v = write_verilog(comp, name, tmp_path / tag / f"{name}.v", params)
    run_cocotb(sim="icarus", sources=[v], toplevel=name, module="tb_top",
               build_dir=tmp_path / tag / "sim",
               extra_env={"TB_SEED": 31, "TB_SLOTS": slots, "TB_LANES": lanes,
                          "TB_PARAMS": json.dumps(params)})

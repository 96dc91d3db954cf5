"""The exported scheduler under cocotb vs the bit-exact model (Icarus and Verilator), every
hardware policy."""

import dataclasses

import pytest

from rtl.export import write_verilog
from rtl.scheduler.top import DystaScheduler
from sw_scheduler.hw_policies import HW_POLICIES
from tests.support.cocotb_launch import run_cocotb
from tests.support.sched_case import Case

CASES = [
    ("icarus", Case(seed=21, slots=16, predictor="mean")),
    ("icarus", Case(seed=22, slots=8, predictor="last", lut=(2, 1, 3),
                    counter_init=(1 << 32) - 4000, load_luts=True)),
    ("verilator", Case(seed=23, slots=4, predictor="mean", lut=(1, 1, 3))),
    ("verilator", Case(seed=24, slots=8, policy="sdrm3-sparse", lut=(1, 1, 3))),
    ("verilator", Case(seed=25, slots=8, predictor="busy", lut=(1, 1, 3),
                       counter_init=(1 << 32) - 3000)),
] + [("icarus", Case(seed=30 + i, slots=8, policy=p, n_requests=16, lut=(1, 1, 3)))
     for i, p in enumerate(HW_POLICIES) if p not in ("dysta", "sdrm3-sparse")]


@pytest.mark.parametrize("sim,case", CASES, ids=[f"{s}-{c.name}" for s, c in CASES])
def test_scheduler(sim, case, tmp_path):
    cfg, img, _, _ = case.build()
    tag = f"scheduler_{case.name}_{sim}"
    # LUT-load case: empty LUTs and beta 0 after reset; the testbench writes both
    comp = (DystaScheduler(dataclasses.replace(cfg, beta=0), None) if case.load_luts
            else DystaScheduler(cfg, img))
    v = write_verilog(comp, "dysta_scheduler", tmp_path / tag / "dysta_scheduler.v",
                      {"num_slots": cfg.num_slots, "predictor": cfg.predictor,
                       "policy": cfg.policy,
                       "lut": case.lut, "counter_init": cfg.counter_init,
                       "luts": "loaded at run time" if case.load_luts else "seeded random"})
    run_cocotb(sim=sim, sources=[v], toplevel="dysta_scheduler", module="tests.rtl.tb_scheduler",
               build_dir=tmp_path / tag / "sim", extra_env={"TB_CASE": case.to_env()},
               expect_tests=2)

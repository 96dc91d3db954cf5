"""Conservation: every request accepted once and completed once, clear failure otherwise;
the CLI runs the hardware next to the reference schedulers."""

import dataclasses
import json

import pytest

from rtl.scheduler.layouts import SchedulerConfig
from sim.cli import main
from sim.driver import hw_requests
from sim.npu import TraceNPU, tensor_case
from sim.system import check_system, run_system
from sw_scheduler.records import ConservationError


def test_conservation_holds_and_failure_is_clear():
    reqs, _, tables = tensor_case(n_requests=6, n_layers=2, seed=2, gap=30)
    images = tables.to_lut_images()
    cfg = SchedulerConfig.for_images(images, num_slots=4)
    res = run_system(reqs, images, TraceNPU(reqs), backend="pysim", config=cfg)
    hw = hw_requests(reqs, cfg)
    check_system(res, hw)
    lost = dataclasses.replace(res, completions=res.completions[:-1])
    with pytest.raises(ConservationError, match=r"6 requests, 6 accepted, 5 completed"):
        check_system(lost, hw)
    twice = dataclasses.replace(res, completions=res.completions + res.completions[:1])
    with pytest.raises(ConservationError, match="duplicated"):
        check_system(twice, hw)


def test_cli_runs_hardware_side_by_side(tmp_path, capsys):
    rc = main(["run", "--workload", "fixture_small", "--n", "15", "--out", str(tmp_path),
               "--sched", "fcfs,dysta", "--backend", "verilator"])
    assert rc == 0
    d = tmp_path / "fixture_small"
    res = json.loads((d / "results.json").read_text())
    s = res["schedulers"]
    assert set(s) == {"fcfs", "dysta", "dysta-hw"}
    assert set(s["dysta-hw"]) == set(s["dysta"])
    assert s["dysta-hw"]["n"] == 15
    hw = json.loads((d / "hw.json").read_text())
    assert hw["bitexact"]["agree"] and hw["decisions"] == hw["bitexact"]["decisions_equal"]
    assert (d / "timeline.png").stat().st_size > 1000
    assert "dysta-hw" in capsys.readouterr().out

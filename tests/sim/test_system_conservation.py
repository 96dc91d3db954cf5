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
    """One RTL row per selected scheduler with a hardware policy, beside the unbounded and
    the table-bounded reference rows."""
    rc = main(["run", "--workload", "fixture_small", "--n", "15", "--out", str(tmp_path),
               "--sched", "fcfs,sjf-fcfs,dysta,dysta-busy", "--backend", "verilator",
               "--slots", "4"])
    assert rc == 0
    d = tmp_path / "fixture_small"
    res = json.loads((d / "results.json").read_text())
    s = res["schedulers"]
    assert list(s) == ["fcfs", "fcfs[4]", "fcfs-hw", "sjf-fcfs", "sjf-fcfs[4]", "dysta",
                       "dysta[4]", "dysta-hw", "dysta-busy", "dysta-busy[4]",
                       "dysta-busy-hw"]                         # sjf-fcfs: no hardware twin
    assert set(s["dysta"]) < set(s["dysta-hw"]) and s["dysta-hw"]["n"] == 15
    assert s["dysta-hw"]["slots"] == 4 and 0 <= s["dysta-hw"]["table_full_fraction"] <= 1
    hw = json.loads((d / "hw.json").read_text())
    assert set(hw["runs"]) == {"fcfs-hw", "dysta-hw", "dysta-busy-hw"} and hw["slots"] == 4
    for run in hw["runs"].values():
        assert run["bitexact"]["agree"]
        assert run["decisions"] == run["bitexact"]["decisions_equal"]
    assert hw["runs"]["fcfs-hw"]["policy"] == "fcfs"
    assert hw["runs"]["dysta-busy-hw"]["predictor"] == "busy"
    assert (d / "timeline-dysta-hw.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "dysta-hw" in out and "fcfs[4]" in out and "full%" in out


def test_cli_refuses_bad_hardware_input_before_the_models(tmp_path, capsys, monkeypatch):
    """A request the hardware cannot encode stops the run before any reference model runs,
    with one line naming the request, the field and the value."""
    from sim import cli
    from sim.workload import Workload

    real = Workload.requests

    def bad(self, **kw):
        reqs = real(self, **kw)
        return [*reqs[:3], dataclasses.replace(reqs[3], priority=4), *reqs[4:]]

    ran = []
    monkeypatch.setattr(Workload, "requests", bad)
    monkeypatch.setattr(cli, "simulate", lambda *a, **k: ran.append(1))
    rc = main(["run", "--workload", "fixture_small", "--n", "8", "--out", str(tmp_path),
               "--sched", "fcfs", "--backend", "verilator"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and not ran
    assert err[-1].startswith("error: hardware input: request ")
    assert "field 'priority' = 4" in err[-1]

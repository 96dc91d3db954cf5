"""Request driver and NPU input checks: clear errors naming the request and field."""

import dataclasses

import pytest

from rtl.scheduler.layouts import SchedulerConfig
from sim.driver import RequestDriver, hw_requests
from sim.npu import TraceNPU, tensor_case
from sim.system import bitexact_agreement, run_system


def _case():
    reqs, _, tables = tensor_case(n_requests=4, n_layers=2, seed=1)
    return reqs, SchedulerConfig.for_images(tables.to_lut_images(), num_slots=4)


def test_driver_presents_in_order_and_logs_waits():
    reqs, cfg = _case()
    drv = RequestDriver(hw_requests(reqs, cfg))
    first = drv.requests[0]
    assert drv.offer(first.arrival - 1) is None
    assert drv.offer(first.arrival) is first
    drv.accepted(first.arrival + 3)                 # held off 3 cycles
    nxt = drv.requests[1]
    assert drv.next_offer_cycle() == max(nxt.arrival, first.arrival + 4)
    assert drv.waits() == {first.tag: 3}


@pytest.mark.parametrize("field,value,match", [
    ("priority", 5, "'priority' = 5"),
    ("model_id", 7, "'model_id' = 7 does not fit 1 bits"),
    ("tag", -1, "'tag' = -1"),
    ("arrival", -3, "'arrival' = -3"),
])
def test_bad_request_fields_are_named(field, value, match):
    reqs, cfg = _case()
    bad = [dataclasses.replace(reqs[0], **{field: value}), *reqs[1:]]
    with pytest.raises(ValueError, match=match):
        hw_requests(bad, cfg)


def test_trace_npu_rejects_bad_plans():
    reqs, _ = _case()
    with pytest.raises(ValueError, match="'cycles' has a value 0"):
        TraceNPU([dataclasses.replace(reqs[0], cycles=(0,) * len(reqs[0].cycles))])
    npu = TraceNPU(reqs)
    with pytest.raises(ValueError, match="request 0, layer 9"):
        npu(0, 9)


@pytest.mark.parametrize("backend", ["pysim", "verilator"])
def test_tags_wrap(backend):
    """Tags beyond the 16-bit field: the hardware sees them modulo 2**16 (two requests in
    the table share one), the records keep them whole, the model agrees."""
    reqs, _, tables = tensor_case(n_requests=6, n_layers=2, seed=3, gap=5)
    big = [dataclasses.replace(r, tag=r.tag + (65535 if r.tag % 2 else 0)) for r in reqs]
    assert len({r.tag % (1 << 16) for r in big}) < len(big)
    images = tables.to_lut_images()
    npu = TraceNPU(big)
    res = run_system(big, images, npu, backend=backend, num_slots=4)
    assert sorted(c.tag for c in res.completions) == sorted(r.tag for r in big)
    assert bitexact_agreement(res, big, images, npu, num_slots=4)["agree"]

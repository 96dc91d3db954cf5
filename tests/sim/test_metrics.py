"""Metric formulas on hand-computed cases."""

import pytest

from sim.metrics import compute_metrics, jain
from sw_scheduler.reference import Completion


def _c(tag, arrival, finish, deadline, iso):
    return Completion(tag=tag, model="m", pattern="p", arrival=arrival, deadline=deadline,
                      finish=finish, iso=iso, priority=1)


def test_hand_computed():
    # turnarounds 100, 300, 200, 400 ; NTTs 1, 3, 2, 2
    cs = [_c(0, 0, 100, 150, 100), _c(1, 100, 400, 350, 100),
          _c(2, 200, 400, 400, 100), _c(3, 300, 700, 600, 200)]
    m = compute_metrics(cs, clock_hz=1000)
    assert m["violation_rate"] == pytest.approx(0.5)          # tags 1 and 3 late; 2 on time
    assert m["antt"] == pytest.approx((1 + 3 + 2 + 2) / 4)
    assert m["throughput"] == pytest.approx(4 / 0.7)          # 700 cycles at 1 kHz
    assert m["stp"] == pytest.approx(1 + 1 / 3 + 1 / 2 + 1 / 2)  # sum of iso / turnaround
    # percentiles of [100, 200, 300, 400] (linear): p50 = 250, p99 = 300 + 0.97 * 100
    assert m["p50_cycles"] == pytest.approx(250)
    assert m["p99_cycles"] == pytest.approx(397)
    assert m["p99"] == pytest.approx(397.0)                   # ms at 1 kHz
    x = [1, 1 / 3, 1 / 2, 1 / 2]
    assert m["fairness"] == pytest.approx(sum(x) ** 2 / (4 * sum(v * v for v in x)))
    assert m["n"] == 4


def test_jain_bounds():
    assert jain([2, 2, 2]) == pytest.approx(1.0)
    assert jain([1, 0, 0, 0]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        jain([])


def test_bad_inputs():
    with pytest.raises(ValueError, match="no completions"):
        compute_metrics([], 1000)
    with pytest.raises(ValueError, match="clock_hz"):
        compute_metrics([_c(0, 0, 1, 1, 1)], 0)
    with pytest.raises(ValueError, match="isolated"):
        compute_metrics([_c(0, 0, 1, 1, 0)], 10)

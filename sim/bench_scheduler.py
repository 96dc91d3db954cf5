"""Scheduler benchmark: ``python -m sim.bench_scheduler --out out/bench``.

Writes ``OUT/scheduler_rtl.json`` with

* ``decision_latency_cycles``: for 16/64/256 slots (Dysta), cycles from the NPU response
  handshake to the next command handshake with ``n`` active requests (Amaranth
  simulation of the RTL, table filled to ``n = slots``; both the update and the retire
  path), also ``n = slots/2``; plus the model's prediction
  (:func:`model_latency`: ``n + resume_delay + scan_overhead`` after an update,
  ``n + RETIRE_DELAY + scan_overhead`` after a retire) and whether the issue's target
  ``n + LATENCY_TARGET`` is met (``within_latency_target``).
* ``decision_latency_by_policy``: the same at 16 slots for every hardware policy, in
  cycles and in ns at the policy's measured ECP5 Fmax (median of 3 nextpnr seeds, read
  from the synthesis table in ``docs/fpga.md``; absent if that row is missing), beside
  the design before this pipelining (``BEFORE``: ``n + 10`` cycles at 72.1 MHz).
* ``agreement``: fixed-point (bit-exact) vs float reference Dysta on a workload
  (real ``arvr`` if present, else the fixture scenario), at every (rate, SLO) point: ``decision_match_fraction``
  (both policies asked at every multi-request decision of the float run, same state),
  and the metrics of three full runs: float Dysta, the bit-exact policy in the reference
  framework (zero-time decisions), and the cycle-exact hardware model
  (:class:`BitExactScheduler`, with its decision/update overhead and table back-pressure).
* ``agreement_by_policy``: the same for every scheduler with a hardware row
  (:data:`sim.hw_row.HW_ROWS`) at the default point: how often fixed point alone changes
  a decision of the float reference, and what it does to the metrics.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from rtl.scheduler.harness import random_images, simulate
from rtl.scheduler.layouts import SchedulerConfig
from sw_scheduler import formats as F
from sw_scheduler.bitexact import BitExactPolicy, BitExactScheduler
from sw_scheduler.hw_policies import HW_POLICIES, hw_policy
from sw_scheduler.records import Completion, Request
from sw_scheduler.reference import Policy, make_policy
from sw_scheduler.reference import simulate as ref_simulate
from sw_scheduler.timing import RETIRE_DELAY, resume_delay, scan_overhead

from .metrics import compute_metrics
from .workload import default_workload, load_workload

__all__ = ["agreement", "agreement_by_policy", "decision_latency", "latency_by_policy",
           "main", "run"]


LATENCY_TARGET = 8   # the decision-latency target: n_active + 8 cycles
# The scheduler before the timing pipelining (commit c1f1953): update-path latency n + 10
# cycles, ECP5 scheduler_s16 72.1 MHz (docs/fpga.md history).
BEFORE = {"latency_minus_n": 10, "fmax_mhz": 72.1}
DOC = Path(__file__).resolve().parent.parent / "docs" / "fpga.md"


def decision_latency(slots: int, *, seed: int = 0, n_decisions: int = 12,
                     policy: str = "dysta") -> dict:
    """Measure response->command latency with the table full (RTL simulation).

    ``slots`` requests arrive at once; the first layer runs ``3 * slots`` cycles so that
    the table fills, then layers take 20 cycles. The first ``n_decisions`` commands are
    simulated; latencies are grouped by path (update / retire) and ``n_active``.
    """
    rng = np.random.default_rng(seed)
    layout = F.LutLayout(1, 1, 3)
    img = random_images(layout, rng, n_layers=(3, 4))
    cfg = SchedulerConfig.for_images(img, num_slots=slots, policy=policy)
    reqs = [Request(tag=i, arrival=0, model_id=i % 2, pattern_id=(i // 2) % 2,
                    deadline=1 << 30) for i in range(slots)]
    plan = [(3 * slots, 100)] + [(20, 100)] * (n_decisions - 1)
    t0 = time.perf_counter()
    res = simulate(cfg, img, reqs, plan, n_decisions=n_decisions,
                   max_cycles=(n_decisions + 4) * (4 * slots + 64))
    wall = time.perf_counter() - t0
    model = BitExactScheduler(cfg, img).run(reqs, lambda k, d: plan[min(k, len(plan) - 1)])
    if [(d.cycle, d.slot) for d in res.decisions] != \
            [(d.cycle, d.slot) for d in model.decisions[:n_decisions]]:
        raise RuntimeError("RTL decisions differ from the bit-exact model")
    resp = [d.cycle + plan[k][0] for k, d in enumerate(res.decisions)]
    retired_at = {c.finish_cycle for c in model.completions}
    paths = {"update_path": {}, "retire_path": {}}
    for k in range(1, len(res.decisions)):
        n = res.decisions[k].n_active
        path = "retire_path" if resp[k - 1] in retired_at else "update_path"
        paths[path].setdefault(str(n), set()).add(res.decisions[k].cycle - resp[k - 1])
    out = {"slots": slots, "policy": policy, "sim_seconds": round(wall, 2),
           "decisions": len(res.decisions)}
    for name, d in paths.items():
        out[name] = {n: sorted(v) for n, v in sorted(d.items())}
    full = paths["update_path"].get(str(slots), set())
    if len(full) != 1:
        raise RuntimeError(f"decision latency at n={slots} not unique: {sorted(full)}")
    out["full_table"] = next(iter(full))
    out["full_table_minus_n"] = out["full_table"] - slots
    out["model_minus_n"] = {p: model_latency(0, p, policy) for p in paths}
    out["latency_target"] = (f"decision latency <= n_active + {LATENCY_TARGET} cycles "
                             "(response handshake to next command handshake)")
    out["within_latency_target"] = all(max(v) <= int(n) + LATENCY_TARGET
                                       for d in paths.values() for n, v in d.items())
    return out


def model_latency(n: int, path: str, policy: str = "dysta") -> int:
    """Response -> command cycles of the bit-exact model with ``n`` active requests."""
    after = {"update_path": resume_delay(hw_policy(policy).gamma),
             "retire_path": RETIRE_DELAY}[path]
    return n + after + scan_overhead(policy)


def measured_fmax(doc=DOC) -> dict:
    """``config -> median ECP5 Fmax (MHz)`` from the synthesis table in ``doc``."""
    from rtl.synth import read_doc_table
    try:
        rows = read_doc_table(doc)
    except (OSError, ValueError):
        return {}
    out = {}
    for r in rows:
        try:
            out[r["config"]] = float(r["ecp5_fmax_mhz"])
        except (KeyError, ValueError):
            pass
    return out


def latency_by_policy(slots: int = 16) -> dict:
    """Decision latency (update path, full table) per hardware policy, cycles and ns."""
    from rtl.synth import Config

    fmax = measured_fmax()
    before_ns = (slots + BEFORE["latency_minus_n"]) * 1e3 / BEFORE["fmax_mhz"]
    out = {"slots": slots, "before": {**BEFORE, "cycles": slots + BEFORE["latency_minus_n"],
                                      "ns": round(before_ns, 1)}, "policies": {}}
    for policy in HW_POLICIES:
        lat = decision_latency(slots, policy=policy)
        f = fmax.get(Config("scheduler", slots=slots, policy=policy).name)
        out["policies"][policy] = {
            "cycles": lat["full_table"], "model_cycles": model_latency(slots, "update_path",
                                                                       policy),
            "fmax_mhz": f, "ns": round(lat["full_table"] * 1e3 / f, 1) if f else None}
    return out


class _Shadowed(Policy):
    """Runs ``inner`` (a float policy) and asks ``shadow`` (its bit-exact twin) at every
    decision with more than one request, in the same state; counts equal choices."""

    name = "shadowed"

    def __init__(self, inner, shadow):
        super().__init__(inner.tables, gamma_mode=inner.gamma_mode)
        self.inner, self.shadow = inner, shadow
        self.asked = self.same = 0

    def select(self, now, active):
        a = self.inner.select(now, active)
        b = self.shadow.select(now, active)
        if len(active) > 1:
            self.asked += 1
            self.same += a is b
        return a

    def on_arrival(self, now, r):
        self.inner.on_arrival(now, r)
        self.shadow.on_arrival(now, r)

    def on_layer_done(self, now, r, layer, nnz):
        self.inner.on_layer_done(now, r, layer, nnz)
        self.shadow.on_layer_done(now, r, layer, nnz)


def agreement(workload: str | None = None, *, n: int = 300, seed: int = 0,
              slots: int = 64, rate: float | None = None, slo: float | None = None,
              policy: str = "dysta") -> dict:
    """Bit-exact vs float reference ``policy`` at one (rate, slo) point (module docstring).

    ``policy`` is a scheduler with a hardware row (:data:`sim.hw_row.HW_ROWS`).
    """
    from .hw_row import HW_ROWS

    hw_name, predictor = HW_ROWS[policy]
    fallback = None
    try:
        wl = load_workload(workload or default_workload())
    except Exception as e:          # e.g. a real scenario whose traces are incomplete
        if workload is not None:
            raise
        fallback = f"{type(e).__name__}: {e}"
        wl = load_workload("fixture_mix")
    tables = wl.static_tables()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", F.FixedPointWarning)
        images = tables.to_lut_images(inv_field=F.inv_field(predictor))
    rate = wl.rates[0] if rate is None else rate
    slo = wl.slo_multipliers[0] if slo is None else slo
    reqs = wl.requests(n=n, seed=seed, tables=tables, rate=rate, slo=slo)

    def twin():
        return BitExactPolicy(tables, hw_name, images=images, gamma_mode=predictor)

    # 1) same-state decisions: the float policy runs, the bit-exact twin is asked too
    sh = _Shadowed(make_policy(policy, tables), twin())
    ref_simulate(reqs, sh)

    # 2) metrics of full runs
    def metrics(done):
        return compute_metrics(done, wl.clock_hz)

    m_float = metrics(ref_simulate(reqs, make_policy(policy, tables)))
    m_bx_policy = metrics(ref_simulate(reqs, twin()))
    cfg = SchedulerConfig.for_images(images, num_slots=slots, policy=hw_name,
                                     predictor=predictor)
    by_tag = {q.tag: q for q in reqs}

    def npu(k, d):
        q = by_tag[d.tag]
        return max(1, q.cycles[d.layer]), q.out_nnz[d.layer]

    hw = BitExactScheduler(cfg, images).run(sorted(reqs, key=lambda q: (q.arrival, q.tag)), npu)
    done = [Completion.of(by_tag[c.tag], c.finish_cycle) for c in hw.completions]
    m_hw = metrics(done)
    diff = {k: {"bitexact_policy": m_bx_policy[k] - m_float[k],
                "bitexact_cycle_model": m_hw[k] - m_float[k]}
            for k in m_float if isinstance(m_float[k], (int, float))}
    return {
        "policy": policy,
        "workload": wl.name,
        "default_workload_error": fallback,
        "fixture_traces": any(v.fixture for v in wl.variants.values()),
        "n_requests": n, "seed": seed, "rate": rate, "slo": slo,
        "grid": {"rates": list(wl.rates), "slos": list(wl.slo_multipliers)},
        "lut_saturated": images.saturated,
        "lut_warnings": [str(w.message) for w in caught],
        "decisions_compared": sh.asked,
        "decisions_same": sh.same,
        "decision_match_fraction": sh.same / sh.asked if sh.asked else None,
        "metrics_float": m_float,
        "metrics_bitexact_policy": m_bx_policy,
        "metrics_bitexact_cycle_model": m_hw,
        "cycle_model_slots": slots,
        "metric_differences": diff,
    }


def agreement_by_policy(workload: str | None = None, **kw) -> dict:
    """:func:`agreement` of every scheduler with a hardware row at the default point."""
    from .hw_row import HW_ROWS

    out = {}
    for name in HW_ROWS:
        a = agreement(workload, policy=name, **kw)
        out[name] = {k: a[k] for k in ("decisions_compared", "decisions_same",
                                       "decision_match_fraction", "metric_differences")}
        out[name]["workload"], out[name]["n_requests"] = a["workload"], a["n_requests"]
    return out


def agreement_sweep(workload: str | None = None, **kw) -> dict:
    """:func:`agreement` at every (rate, slo) of the workload; pooled match fraction."""
    first = agreement(workload, **kw)
    points = [first] + [agreement(workload, rate=r, slo=s, **kw)
                        for r in first["grid"]["rates"] for s in first["grid"]["slos"]
                        if (r, s) != (first["rate"], first["slo"])]
    asked = sum(p["decisions_compared"] for p in points)
    same = sum(p["decisions_same"] for p in points)
    keys = ("violation_rate", "antt", "p99", "fairness")
    return {
        "workload": first["workload"], "fixture_traces": first["fixture_traces"],
        "default_workload_error": first["default_workload_error"],
        "decision_match_fraction": same / asked if asked else None,
        "decisions_compared": asked,
        "max_abs_metric_difference": {
            k: {v: max(abs(p["metric_differences"][k][v]) for p in points)
                for v in ("bitexact_policy", "bitexact_cycle_model")} for k in keys},
        "points": points,
    }


def run(out_dir, *, slots=(16, 64, 256), workload: str | None = None) -> dict:
    """Run both parts and write ``out_dir/scheduler_rtl.json``."""
    lat = {s: decision_latency(s) for s in slots}
    out = {
        "decision_latency_cycles": {str(s): lat[s]["full_table"] for s in slots},
        "decision_latency_definition": (
            "cycles from the NPU response handshake to the next command handshake, "
            "n_active = slots, update (non-retiring) path; RTL Amaranth simulation"),
        "decision_latency_detail": {str(s): lat[s] for s in slots},
        "decision_latency_by_policy": latency_by_policy(),
        "agreement": agreement_sweep(workload),
        "agreement_by_policy": agreement_by_policy(workload, n=1000),
    }
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "scheduler_rtl.json").write_text(json.dumps(out, indent=2))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.bench_scheduler",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/bench")
    ap.add_argument("--workload", default=None)
    ap.add_argument("--slots", type=int, nargs="+", default=[16, 64, 256])
    a = ap.parse_args(argv)
    out = run(a.out, slots=tuple(a.slots), workload=a.workload)
    print(json.dumps({"decision_latency_cycles": out["decision_latency_cycles"],
                      "decision_latency_by_policy": out["decision_latency_by_policy"],
                      "decision_match_fraction":
                          out["agreement"]["decision_match_fraction"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

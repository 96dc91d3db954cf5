"""``make evaluation``: where, and by how much, sparsity-aware dynamic scheduling helps.

Regenerates ``docs/evaluation.md`` and its figures (``docs/img/eval_*.png``) from the
committed traces. For every scenario (:data:`SCENARIOS`) and both comparison protocols
(``fair``, ``paper``; :mod:`sim.protocols`) the reference models of :data:`SCHEDULERS` run
on the sweep machinery (:mod:`sim.sweep`: resumable, all local cores, per-point results
under ``OUT/sweep``):

* versus load (fractions of the accelerator's capacity, :data:`LOADS`) at SLO x
  :data:`SLO_AT`, and versus SLO multiplier (:data:`SLOS`) at load :data:`LOAD_AT`;
* :data:`SEEDS` request-stream seeds of :data:`N` requests per point, 95 % confidence
  intervals (Student t) over the seeds;
* the ablation (dysta, its busy-cycle predictor, dysta-nopattern, dysta-oracle, the best
  baseline) and, where a scenario has input sizes a host knows at arrival, the
  shape-aware static level (``--shape-buckets``);
* the hardware rows (scheduler RTL on Verilator, every hardware policy there is) at the
  default point of each scenario, with their agreement with the bit-exact model;
* the gamma predictors' forecast error of the remaining cycles (:mod:`sim.predictor_eval`)
  per scenario, beside what each predictor does to the schedule (dysta vs dysta-busy).

The text states what the numbers show, computed from them: a difference counts as a win
or a loss only when the 95 % intervals of the two means do not overlap.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

from sw_scheduler.formats import FixedPointWarning
from sw_scheduler.reference import policy_names

from . import cli
from .hw_row import HW_NAME
from .plots import plot_figure_ci
from .predictor_eval import CHECKPOINTS
from .predictor_eval import PREDICTORS as FORECASTS
from .predictor_eval import evaluate as forecast_errors
from .protocols import PROTOCOLS
from .stats import mean_std_ci
from .sweep import _cores, build_points, run_sweep
from .sweep_summary import summarize
from .workload import load_workload

__all__ = ["SCENARIOS", "main", "run_evaluation"]

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("arvr", "mobile", "datacenter", "assistant")
SCHEDULERS = ("fcfs", "sjf", "edf", "prema", "planaria", "sdrm3", "dysta", "dysta-busy",
              "dysta-nopattern", "dysta-oracle")
BASELINES = ("fcfs", "sjf", "edf", "prema", "planaria", "sdrm3")
ABLATION = ("dysta", "dysta-busy", "dysta-nopattern", "dysta-oracle")
LOADS = (0.5, 0.7, 0.9, 1.1)
SLOS = (2.0, 5.0, 10.0, 20.0)
LOAD_AT, SLO_AT = 0.9, 5.0          # the default point: tables, hardware rows
SEEDS = (0, 1, 2, 3, 4)
N = 1000
SHAPE_BUCKETS = 4


def _grids(scenarios, seeds, n) -> list[dict]:
    grids = []
    for w in scenarios:
        base = {"workload": [w], "sched": list(SCHEDULERS), "seed": list(seeds), "n": [n],
                "protocol": list(PROTOCOLS)}
        grids.append({**base, "load": list(LOADS), "slo": [SLO_AT]})
        grids.append({**base, "load": [LOAD_AT], "slo": list(SLOS)})
        if _has_shapes(w):
            grids.append({**base, "sched": ["sjf", "dysta"], "protocol": ["fair"],
                          "shape_buckets": [SHAPE_BUCKETS], "load": list(LOADS),
                          "slo": [SLO_AT]})
    return grids


def _has_shapes(workload: str) -> bool:
    wl = load_workload(workload)
    return any(v.shape is not None for v in wl.variants.values())


def _f(x: float, pct: bool = False) -> str:
    return f"{100 * x:.1f}" if pct else f"{x:.3f}"


def _ci(r, metric, pct=False) -> str:
    m, c = r[f"{metric}_mean"], r[f"{metric}_ci95"]
    s = 100.0 if pct else 1.0
    if not math.isfinite(c):
        return f"{s * m:.2f}" if pct else f"{m:.3f}"
    return f"{s * m:.2f} ± {s * c:.2f}" if pct else f"{m:.3f} ± {c:.3f}"


def _cmp(seeds_a: dict, seeds_b: dict, metric) -> tuple[str, float, float]:
    """Paired comparison of two schedulers on the same request streams (lower is better).

    ``seeds_*``: seed -> metrics. Returns ``("win"|"loss"|"tie", mean diff, ci95)`` of the
    per-seed differences ``a - b``; a win or loss needs the 95 % interval of the mean
    difference to exclude 0 (identical schedules give a zero difference: a tie).
    """
    common = sorted(set(seeds_a) & set(seeds_b))
    diffs = [seeds_a[k][metric] - seeds_b[k][metric] for k in common]
    m, _, ci = mean_std_ci(diffs)
    ci = ci if math.isfinite(ci) else math.inf
    if m + ci < 0:
        return "win", m, ci
    if m - ci > 0:
        return "loss", m, ci
    return "tie", m, ci


def _best_baseline(rows_at: dict) -> str:
    """The baseline with the lowest mean violation rate (ties: lower ANTT)."""
    return min((s for s in BASELINES if s in rows_at),
               key=lambda s: (rows_at[s]["violation_rate_mean"], rows_at[s]["antt_mean"]))


HW_ROWS_DEFAULT = ("dysta",)        # --hardware all: every scheduler with a hardware policy


def _hardware(scenarios, n: int, scheds=HW_ROWS_DEFAULT) -> dict:
    """The RTL rows at each scenario's default point (Verilator, one seed): one Verilator
    build per policy and scenario, so by default only Dysta's (``--hardware all``: all)."""
    out = {}
    for w in scenarios:
        wl = load_workload(w)
        tables = wl.static_tables()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FixedPointWarning)
            images = tables.to_lut_images()
        rate = LOAD_AT * wl.capacity_rate(tables)
        with tempfile.TemporaryDirectory(prefix="eval-hw-") as d:
            t0 = time.perf_counter()
            res = cli.run_point(wl, tables, images, rate=rate, slo=SLO_AT, n=n, seed=0,
                                scheds=scheds, backend="verilator", out_dir=Path(d),
                                write=False)
            hw = json.loads((Path(d) / "hw.json").read_text())
        rows = {k: v for k, v in res["schedulers"].items() if k.endswith("-hw")}
        refs = {k: res["schedulers"].get(k.removesuffix("-hw")) for k in rows}
        runs = hw["runs"].values()
        out[w] = {"rate": rate, "rows": rows, "refs": refs, "seconds": time.perf_counter() - t0,
                  "agree": all(r["bitexact"]["agree"] for r in runs),
                  "decisions": sum(r["bitexact"]["decisions"] for r in runs),
                  "decisions_equal": sum(r["bitexact"]["decisions_equal"] for r in runs),
                  "slots": hw.get("slots"), "lanes": hw.get("lanes")}
    return out


def run_evaluation(out: Path, doc: Path, img: Path, *, scenarios=SCENARIOS, seeds=SEEDS,
                   n: int = N, jobs: int | None = None, hardware=HW_ROWS_DEFAULT) -> dict:
    t0 = time.perf_counter()
    points, seen = [], set()
    for g in _grids(scenarios, seeds, n):
        for p in build_points(g, point_fn=cli.run_point, backends=["reference"],
                              sched_names=policy_names(), hw_name=HW_NAME):
            if p.key not in seen:
                seen.add(p.key)
                points.append(p)
    rep = run_sweep(points, out / "sweep", point_fn=cli.run_point, hw_name=HW_NAME,
                    jobs=jobs or _cores(), plots=False, grid={"evaluation": list(scenarios)})
    if rep.get("failed"):
        raise RuntimeError(f"evaluation: {rep['failed']} sweep points failed "
                           f"(see the log above; results so far in {out / 'sweep'})")
    docs = [json.loads((out / "sweep" / "points" / f"{p.key}.json").read_text())
            for p in points]
    _, rows = summarize(docs)
    for r in rows:
        r.setdefault("protocol", "fair")
        r.setdefault("shape_buckets", 0)
        r["shape_buckets"] = r["shape_buckets"] or 0
    hw = _hardware(scenarios, n, hardware) if hardware else {}
    forecasts = {w: forecast_errors(w) for w in scenarios}
    img.mkdir(parents=True, exist_ok=True)
    per_seed: dict = {}
    for d in docs:
        pr = d["params"]
        k = (pr["workload"], pr.get("protocol", "fair"), pr.get("shape_buckets", 0) or 0,
             round(pr["load"], 9), round(pr["slo"], 9), pr["sched"])
        per_seed.setdefault(k, {})[pr["seed"]] = d["metrics"]
    text = _document(rows, per_seed, hw, forecasts, scenarios, img, doc, seeds, n,
                     sweep_seconds=rep.get("seconds", 0.0),
                     total_seconds=time.perf_counter() - t0)
    doc.write_text(text)
    return {"points": len(points), "sweep": rep, "seconds": time.perf_counter() - t0}


def _sel(rows, **kw):
    return [r for r in rows if all(_eq(r.get(k), v) for k, v in kw.items())]


def _eq(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9
    return a == b


def _plots(rows, w, proto, img: Path, rel: Path) -> list[str]:
    out = []
    base = _sel(rows, workload=w, protocol=proto, shape_buckets=0)
    vs_load = [r for r in base if _eq(r["slo"], SLO_AT)]
    vs_slo = [r for r in base if _eq(r["load"], LOAD_AT)]
    for rows_, x, panel, metric, tag in ((vs_load, "load", "slo", "violation_rate", "viol_load"),
                                         (vs_load, "load", "slo", "antt", "antt_load"),
                                         (vs_slo, "slo", "load", "violation_rate", "viol_slo")):
        path = img / f"eval_{w}_{proto}_{tag}.png"
        plot_figure_ci((rows_, x, panel, metric, f"{w} ({proto})", path, list(SCHEDULERS)))
        out.append((rel / path.name).as_posix())
    return out


def _document(rows, per_seed, hw, forecasts, scenarios, img: Path, doc: Path, seeds, n, *,
              sweep_seconds, total_seconds) -> str:
    rel = Path("img")
    L = ["# Evaluation: where sparsity-aware dynamic scheduling helps", "",
         ("Generated by `make evaluation` (`python -m sim.evaluation`) from the committed "
         "traces; every number below is reproduced by that command. Reference models on the "
         f"sweep machinery: {len(seeds)} seeds x {n} requests per point, mean ± half width "
         "of the 95 % confidence interval (Student t over seeds). Load is the offered "
         "isolated work as a fraction of the accelerator's capacity "
         "(`Workload.capacity_rate`); the SLO target is SLO x the variant's mean isolated "
         "latency (`fair`) or the model's mean over patterns (`paper`). Protocols: "
         "`docs/scheduling.md`. Dysta is compared with the best baseline of each point on the "
         "same request streams: the per-seed differences give a mean and a 95 % interval; a "
         "win or a loss needs that interval to exclude 0, otherwise it is a tie. (The best "
         "baseline is picked on the same data, which slightly favours it.)"), "",
         (f"Sweep time here (2 cores): {sweep_seconds:.0f} s; whole run "
          f"{total_seconds:.0f} s."), ""]
    verdicts = []
    for w in scenarios:
        L += [f"## {w}", ""]
        wl = load_workload(w)
        L += [f"{wl.description}", ""] if wl.description else []
        for proto in PROTOCOLS:
            L += [f"### {w}, protocol `{proto}`", ""]
            at = {r["sched"]: r for r in _sel(rows, workload=w, protocol=proto, shape_buckets=0,
                                              load=LOAD_AT, slo=SLO_AT)}
            if not at:
                continue
            L += [f"At load {LOAD_AT:g}, SLO x{SLO_AT:g}:", "",
                  "| scheduler | violations % | ANTT | STP | p99 ms |", "|---|---|---|---|---|"]
            for s in SCHEDULERS:
                if s in at:
                    r = at[s]
                    L.append(f"| {s} | {_ci(r, 'violation_rate', True)} | {_ci(r, 'antt')} | "
                             f"{r['stp_mean']:.1f} | {r['p99_mean']:.1f} |")
            L.append("")
            for p in _plots(rows, w, proto, img, rel):
                L.append(f"![{Path(p).stem}]({p})")
            L.append("")
            # dysta against the best baseline at every point of both sweeps
            lines, counts = [], {"win": 0, "tie": 0, "loss": 0}
            pts = sorted({(r["load"], r["slo"]) for r in _sel(rows, workload=w, protocol=proto,
                                                               shape_buckets=0)})
            for load, slo in pts:
                here = {r["sched"]: r for r in _sel(rows, workload=w, protocol=proto,
                                                    shape_buckets=0, load=load, slo=slo)}
                b = _best_baseline(here)
                key = (w, proto, 0, round(load, 9), round(slo, 9))
                mine, theirs = per_seed[(*key, "dysta")], per_seed[(*key, b)]
                v, dv, cv = _cmp(mine, theirs, "violation_rate")
                a, da, ca = _cmp(mine, theirs, "antt")
                counts[v] += 1
                verdicts.append((w, proto, load, slo, b, v, dv, a, da))
                lines.append(f"| {load:g} | {slo:g} | {b} | {v} ({100 * dv:+.2f} ± "
                             f"{100 * cv:.2f} pp) | {a} ({da:+.3f} ± {ca:.3f}) |")
            L += [("Dysta against the best baseline of each point (lowest mean violation "
                   "rate; lower is better):"), "",
                  "| load | SLO x | best baseline | dysta violations vs it | dysta ANTT vs it |",
                  "|---|---|---|---|---|", *lines, "",
                  (f"Violation rate: {counts['win']} wins, {counts['tie']} ties, "
                   f"{counts['loss']} losses over {len(pts)} points."), ""]
            # ablation at the default point
            b = _best_baseline(at)
            L += ["Ablation at the default point:", "",
                  "| variant | violations % | ANTT |", "|---|---|---|"]
            for s in (*ABLATION, b):
                if s in at:
                    name = f"{s} (best baseline)" if s == b else s
                    L.append(f"| {name} | {_ci(at[s], 'violation_rate', True)} | "
                             f"{_ci(at[s], 'antt')} |")
            L.append("")
        shaped = _sel(rows, workload=w, shape_buckets=SHAPE_BUCKETS)
        if shaped:
            L += [(f"### {w}: shape-aware static level ({SHAPE_BUCKETS} input-size buckets, "
                   "`--shape-buckets`)"), "",
                  ("| load | scheduler | violations %, size-unaware | size-aware | ANTT, "
                   "size-unaware | size-aware |"), "|---|---|---|---|---|---|"]
            for r in sorted(shaped, key=lambda r: (r["load"], r["sched"])):
                if not _eq(r["slo"], SLO_AT):
                    continue
                u = _sel(rows, workload=w, protocol="fair", shape_buckets=0, sched=r["sched"],
                         load=r["load"], slo=r["slo"])
                if u:
                    u = u[0]
                    L.append(f"| {r['load']:g} | {r['sched']} | "
                             f"{_ci(u, 'violation_rate', True)} | "
                             f"{_ci(r, 'violation_rate', True)} | {_ci(u, 'antt')} | "
                             f"{_ci(r, 'antt')} |")
            L.append("")
        if w in hw:
            h = hw[w]
            L += [(f"### {w}: hardware rows (scheduler RTL, Verilator; load {LOAD_AT:g}, "
                   f"SLO x{SLO_AT:g}, seed 0, {h['slots']} slots, {h['lanes']} lanes)"), "",
                  (f"RTL vs bit-exact model, every hardware policy together: "
                   f"{h['decisions_equal']} / {h['decisions']} decisions equal (agree: "
                   f"{h['agree']})."), "",
                  "| row | violations % | ANTT | float reference | violations % | ANTT |",
                  "|---|---|---|---|---|---|"]
            for k, m in h["rows"].items():
                ref = h["refs"].get(k)
                rname = k.removesuffix("-hw")
                rv = (f"{100 * ref['violation_rate']:.2f} | {ref['antt']:.3f}" if ref
                      else "- | -")
                L.append(f"| {k} | {100 * m['violation_rate']:.2f} | {m['antt']:.3f} | "
                         f"{rname} | {rv} |")
            L.append("")
    L += _predictors(forecasts, per_seed, scenarios)
    L += _summary(verdicts)
    return "\n".join(L) + "\n"


def _predictors(forecasts, per_seed, scenarios) -> list[str]:
    """Forecast error of every gamma predictor, and what the busy predictor does to the
    schedule at the default point (fair protocol)."""
    L = ["## Gamma predictors", "",
         ("Mean |predicted - true| / true remaining cycles (%) of the held-out samples after "
          f"{', '.join(f'{100 * f:g}' for f in CHECKPOINTS)} % of their layers "
          "(`python -m sim.predictor_eval --workload W`): `static` is the pattern-aware "
          "table alone, `nnz-*` gamma from output non-zeros (the hardware's `mean`/`last` "
          "predictors), `busy-ratio` the measured over mean busy cycles of the executed "
          "layers (the hardware's `busy` predictor, `SchedulerConfig.predictor`)."), "",
         "| scenario | " + " | ".join(FORECASTS) + " | best |",
         "|---|" + "---|" * (len(FORECASTS) + 1)]
    for w in scenarios:
        f = forecasts[w]
        L.append(f"| {w} | " + " | ".join(f"{100 * f['overall'][p]:.2f}" for p in FORECASTS)
                 + f" | {f['best']} |")
    L += ["", ("Schedule at the default point (fair, load "
               f"{LOAD_AT:g}, SLO x{SLO_AT:g}): dysta-busy against dysta on the same streams:"),
          "", "| scenario | violations, busy vs mean | ANTT, busy vs mean |", "|---|---|---|"]
    outcome = {"win": 0, "tie": 0, "loss": 0}
    for w in scenarios:
        key = (w, "fair", 0, round(LOAD_AT, 9), round(SLO_AT, 9))
        if (*key, "dysta") not in per_seed or (*key, "dysta-busy") not in per_seed:
            continue
        busy, mean = per_seed[(*key, "dysta-busy")], per_seed[(*key, "dysta")]
        v, dv, cv = _cmp(busy, mean, "violation_rate")
        a, da, ca = _cmp(busy, mean, "antt")
        outcome[v] += 1
        L.append(f"| {w} | {v} ({100 * dv:+.2f} ± {100 * cv:.2f} pp) | {a} ({da:+.3f} ± "
                 f"{ca:.3f}) |")
    best = {w: forecasts[w]["best"] for w in scenarios}
    L += ["", (f"Forecast: `busy-ratio` is the most accurate predictor on "
               f"{sum(b == 'busy-ratio' for b in best.values())} of {len(best)} scenarios. "
               f"Schedule (violation rate, busy vs mean): {outcome['win']} wins, "
               f"{outcome['tie']} ties, {outcome['loss']} losses. The hardware default stays "
               "`mean`, the paper's predictor, unless the busy predictor wins schedules, not "
               "only forecasts; `SchedulerConfig.predictor=\"busy\"` (the `dysta-busy` row, "
               "`dysta-busy-hw` in hardware) needs no sparsity monitor in the accelerator: "
               "the scheduler measures each layer's cycles itself (docs/scheduler_rtl.md)."),
          ""]
    return L


def _summary(verdicts) -> list[str]:
    """The plain statement of what the data show, counted from the verdicts."""
    L = ["## What the data show", ""]
    for proto in PROTOCOLS:
        vs = [v for v in verdicts if v[1] == proto]
        if not vs:
            continue
        wins = [v for v in vs if v[5] == "win"]
        losses = [v for v in vs if v[5] == "loss"]
        ties = len(vs) - len(wins) - len(losses)
        L.append(f"* Protocol `{proto}`: over {len(vs)} (scenario, load, SLO) points Dysta's "
                 f"violation rate beats the best baseline of the point at {len(wins)}, ties "
                 f"at {ties} and loses at {len(losses)}.")
        if wins:
            big = max(wins, key=lambda v: -v[6])
            L.append(f"  Largest win: {big[0]} at load {big[2]:g}, SLO x{big[3]:g}: "
                     f"{100 * big[6]:+.2f} pp against {big[4]}.")
        if losses:
            worst = max(losses, key=lambda v: v[6])
            L.append(f"  Largest loss: {worst[0]} at load {worst[2]:g}, SLO x{worst[3]:g}: "
                     f"{100 * worst[6]:+.2f} pp against {worst[4]}.")
        aw = sum(v[7] == "win" for v in vs)
        al = sum(v[7] == "loss" for v in vs)
        L.append(f"  ANTT: {aw} wins, {len(vs) - aw - al} ties, {al} losses.")
    scen = sorted({v[0] for v in verdicts})
    for w in scen:
        vs = [v for v in verdicts if v[0] == w and v[1] == "fair"]
        if vs:
            n_w = sum(v[5] == "win" for v in vs)
            n_l = sum(v[5] == "loss" for v in vs)
            L.append(f"* {w} (`fair`): {n_w} wins / {n_l} losses in violation rate over "
                     f"{len(vs)} points.")
    L.append("")
    return L


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.evaluation",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "evaluation")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "evaluation.md")
    ap.add_argument("--img", type=Path, default=None, help="figures (default: DOC's img/)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--seeds", type=int, default=len(SEEDS))
    ap.add_argument("--n", type=int, default=N)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--hardware", default="dysta",
                    help="RTL rows at the default point: dysta (default), all (every "
                         "scheduler with a hardware policy, one Verilator build each), none")
    a = ap.parse_args(argv)
    img = a.img or a.doc.parent / "img"
    r = run_evaluation(a.out, a.doc, img, scenarios=tuple(a.scenarios.split(",")),
                       seeds=tuple(range(a.seeds)), n=a.n, jobs=a.jobs,
                       hardware={"none": (), "all": SCHEDULERS}.get(a.hardware,
                                                                    tuple(a.hardware.split(","))))
    print(f"evaluation: {r['points']} points in {r['seconds']:.0f} s; wrote {a.doc}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

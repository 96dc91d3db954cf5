"""How well does each gamma predictor forecast a request's remaining cycles?

For every held-out sample of every variant of a scenario, after its first ``k`` layers
ran (``k = ceil(f * L)`` for ``f`` in :data:`CHECKPOINTS`), each predictor estimates the
remaining cycles as ``gamma * REM[k]`` (REM from the static tables of the profiling
samples); the error is ``|estimate - true| / true``. Predictors:

* ``static``: gamma = 1 (the pattern-aware table alone);
* ``nnz-mean`` / ``nnz-last`` / ``nnz-window4``: gamma from the measured/mean output
  non-zeros of the executed layers (running mean, last value, mean of the last 4) — what
  the hardware's predictor computes (``mean`` / ``last``);
* ``busy-ratio``: measured busy cycles of the executed layers over their mean cycles
  (ratio of sums) — what the scheduler could measure without a sparsity monitor;
* ``busy-last``: the last layer's measured / mean cycles.

``python -m sim.predictor_eval --workload arvr`` prints the mean error per predictor and
checkpoint; :func:`evaluate` returns it for ``make evaluation``.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from .workload import load_workload

__all__ = ["CHECKPOINTS", "PREDICTORS", "evaluate", "main"]

CHECKPOINTS = (0.25, 0.5, 0.75)
PREDICTORS = ("static", "nnz-mean", "nnz-last", "nnz-window4", "busy-ratio", "busy-last")


def _gammas(cyc, nnz, mc, mn, k) -> dict:
    """Each predictor's gamma after layers ``0..k-1`` of one sample."""
    ratios = [nnz[j] / mn[j] for j in range(k) if mn[j] > 0]
    out = {"static": 1.0}
    out["nnz-mean"] = float(np.mean(ratios)) if ratios else 1.0
    out["nnz-last"] = ratios[-1] if ratios else 1.0
    out["nnz-window4"] = float(np.mean(ratios[-4:])) if ratios else 1.0
    den = float(mc[:k].sum())
    out["busy-ratio"] = float(cyc[:k].sum()) / den if den > 0 else 1.0
    out["busy-last"] = float(cyc[k - 1]) / mc[k - 1] if k and mc[k - 1] > 0 else 1.0
    return out


def evaluate(workload, *, lanes: int | None = None) -> dict:
    """Mean relative error of every predictor at every checkpoint (module docstring)."""
    wl = load_workload(workload, **({"lanes": lanes} if lanes else {}))
    tables = wl.static_tables()
    errs = {f: {p: [] for p in PREDICTORS} for f in CHECKPOINTS}
    per_variant = {}
    for spec in wl.models:
        for pat in spec.patterns:
            st = tables.get(spec.name, pat)
            v = wl.variant(spec.name, pat)
            cyc_all = wl.variant_cycles(spec.name, pat)
            L = v.n_layers
            var_err = {p: [] for p in PREDICTORS}
            for s in wl.held_out_samples(spec.name, pat):
                cyc, nnz = cyc_all[s].astype(float), v.out_nnz[s].astype(float)
                for f in CHECKPOINTS:
                    k = min(max(math.ceil(f * L), 1), L - 1)
                    true = cyc[k:].sum()
                    for p, g in _gammas(cyc, nnz, st.mean_cycles, st.mean_nnz, k).items():
                        e = abs(g * st.rem[k] - true) / true
                        errs[f][p].append(e)
                        var_err[p].append(e)
            per_variant[f"{spec.name}/{pat}"] = {p: float(np.mean(e)) for p, e in var_err.items()}
    mean = {str(f): {p: float(np.mean(e)) for p, e in errs[f].items()} for f in CHECKPOINTS}
    overall = {p: float(np.mean([x for f in CHECKPOINTS for x in errs[f][p]]))
               for p in PREDICTORS}
    return {"workload": wl.name, "lanes": wl.lanes, "checkpoints": list(CHECKPOINTS),
            "mean_relative_error": mean, "overall": overall,
            "best": min(overall, key=overall.get), "per_variant": per_variant}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.predictor_eval",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="arvr")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON")
    a = ap.parse_args(argv)
    r = evaluate(a.workload)
    if a.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"{r['workload']}: mean |predicted - true| / true remaining cycles (%)")
    print(f"{'predictor':12s}" + "".join(f"{'@' + str(f):>9s}" for f in CHECKPOINTS)
          + f"{'all':>9s}")
    for p in PREDICTORS:
        print(f"{p:12s}" + "".join(f"{100 * r['mean_relative_error'][str(f)][p]:9.3f}"
                                   for f in CHECKPOINTS) + f"{100 * r['overall'][p]:9.3f}")
    print(f"best: {r['best']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

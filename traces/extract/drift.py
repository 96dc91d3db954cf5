"""Re-measure the output drift of every pruned variant and compare it with the stored one.

``python -m traces.extract.drift [--models ...] [--out drift.json]`` (the traces
environment, ``make traces``'s ``.venv-traces``) re-runs each model dense and pruned on
its trace's inputs, outputs only (no layer records, so minutes instead of the full
extraction), and prints per variant the stored ``meta.source.output_drift.mean``, the
re-measured mean and whether the variant is damaged (drift > ``DAMAGED_DRIFT``). Same
metric as the extractors: relative L2 of all outputs vs dense, mean over samples
(ONNX / PyTorch: samples whose dense output is ~zero excluded, as stored).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from traces.extract import common
from traces.format import DAMAGED_DRIFT, load_variant

__all__ = ["main", "outputs"]


def _mediapipe(model: str, patterns):
    from traces.extract import mediapipe_models as mm
    from traces.extract.inputs import image_samples, to_float

    rel, (lo, hi), inset, _ = mm.MODELS[model]
    buf = mm.model_path(rel).read_bytes()
    layers = mm.parse_layers(buf)
    it0 = mm._interpreter(buf)
    size = int(it0.get_input_details()[0]["shape"][1])
    samples = image_samples(inset, mm.N_SAMPLES, size, seed=mm.SEED)
    xch = {lay.name: int(it0.get_tensor(lay.x).shape[-1]) for lay in layers}
    out = {}
    for p in patterns:
        fam, lev, _ = common.pattern_spec(p)
        it = it0 if fam == "dense" else mm._interpreter(mm.prune_model(buf, layers, fam, lev,
                                                                        xch))
        inp = it.get_input_details()[0]["index"]
        idx = [d["index"] for d in it.get_output_details()]
        ys = []
        for _, img in samples:
            it.set_tensor(inp, to_float(img, lo, hi))
            it.invoke()
            ys.append(np.concatenate([it.get_tensor(i).ravel() for i in idx]).astype(np.float64))
        out[p] = ys
    return out


def _onnx(model: str, patterns):
    from traces.extract import onnx_models as om

    tr = om.OnnxTracer(om.model_path(model))
    ins = om.samples(model)
    out = {}
    for p in patterns:
        fam, lev, _ = common.pattern_spec(p)
        w = tr.pruned_weights(fam, lev)
        sess = tr.session(None if fam == "dense" else w)
        name = tr.output
        out[p] = [sess.run([name], {sess.get_inputs()[0].name: x[None]})[0] for _, x in ins]
    return out


def _torch(model: str, patterns):
    from traces.extract import torch_models as tm

    torch = tm._torch()
    ins = tm.samples(model)
    out = {}
    for p in patterns:
        fam, lev, _ = common.pattern_spec(p)
        m = tm._load(model)
        tm._prune_(m, fam, lev)
        ys = []
        for _, x in ins:
            if model == "efficientnet_lite0":
                with torch.no_grad():
                    ys.append(m(torch.from_numpy(x[None])).numpy()[0])
            else:
                ys.append(tm._minilm_records(m, x, tm._Weights(),
                                             natural=model == "minilm_l6_natural")[1])
        out[p] = ys
    return out


def outputs(model: str, patterns) -> dict[str, list[np.ndarray]]:
    """``{pattern: [output per sample]}`` of a model (trace inputs, trace order)."""
    from traces.extract import mediapipe_models, onnx_models, torch_models

    if model in mediapipe_models.MODELS:
        return _mediapipe(model, patterns)
    if model in onnx_models.MODELS:
        return _onnx(model, patterns)
    if model in torch_models.MODELS:
        return _torch(model, patterns)
    raise ValueError(f"drift: unknown model {model!r}")


def _mean_drift(model: str, ys, y0s) -> float:
    from traces.extract import mediapipe_models, onnx_models, torch_models

    if model in mediapipe_models.MODELS:
        d = [np.linalg.norm(y - y0) / max(np.linalg.norm(y0), 1e-12) for y, y0 in zip(ys, y0s)]
        return float(np.mean(d))
    drift = onnx_models._drift if model in onnx_models.MODELS else torch_models._drift
    return onnx_models.drift_summary(model, [drift(model, y, y0)
                                             for y, y0 in zip(ys, y0s)])["mean"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m traces.extract.drift", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=None, help="default: every model with "
                    "pruned variants in traces/data")
    ap.add_argument("--out", default=None, help="also write the table as JSON here")
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    files = sorted(common.DATA_ROOT.glob("*/*.npz"))
    stored: dict[str, dict[str, float]] = {}
    for f in files:
        v = load_variant(f)
        if v.drift is not None and v.pattern != "dense":
            stored.setdefault(v.model, {})[v.pattern] = v.drift
    rows = []
    for model in a.models or sorted(stored):
        pats = sorted(stored.get(model, {}))
        if not pats:
            continue
        ys = outputs(model, ["dense", *pats])
        for p in pats:
            d = _mean_drift(model, ys[p], ys["dense"])
            rows.append({"model": model, "pattern": p, "stored": stored[model][p],
                         "measured": d, "damaged": d > DAMAGED_DRIFT})
            print(f"{model:28s} {p:16s} stored {stored[model][p]:9.3f} measured {d:9.3f}"
                  f"{'  damaged' if d > DAMAGED_DRIFT else ''}", flush=True)
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()

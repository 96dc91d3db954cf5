"""AR/VR traces: MediaPipe's hand / face / body tracking .tflite models under LiteRT.

The models ship inside the ``mediapipe==0.10.21`` wheel (``mediapipe/modules/*``). Each runs
under ``ai_edge_litert``'s Interpreter with the built-in op resolver without default
delegates and ``experimental_preserve_all_tensors=True``, so every intermediate tensor is
the model's own. Every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED op is one trace
layer: its sparse operand is its input activation (im2col rows), its output is the op's
output after the activation (the fused one, or a following RELU / PRELU / ... op).

Pruned variants rewrite the weight buffers of a copy of the flatbuffer in place (float32
or float16 constants; the sizes do not change), then run the same inputs. No fine-tuning:
the drift of the pruned model's outputs from the dense one is measured and recorded.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from traces.extract import common
from traces.extract.inputs import image_samples, to_float

__all__ = ["MODELS", "TfliteLayer", "extract_model", "parse_layers", "prune_model", "run"]

N_SAMPLES = 128   # samples per model (deterministic ids and order)
SEED = 0
# name -> (file below mediapipe/modules, input range, input set, domain note)
MODELS = {
    "hand_landmark_lite": ("hand_landmark/hand_landmark_lite.tflite", (0.0, 1.0), "mixed",
                           ("off-distribution: no hand images ship offline; LFW faces and "
                            "natural photos stand in (skin-coloured faces are the closest)")),
    "hand_landmark_full": ("hand_landmark/hand_landmark_full.tflite", (0.0, 1.0), "mixed",
                           "off-distribution: LFW faces and natural photos, no hands"),
    "palm_detection_lite": ("palm_detection/palm_detection_lite.tflite", (0.0, 1.0), "mixed",
                            "off-distribution: LFW faces and natural photos, no hands"),
    "face_detection_short_range": ("face_detection/face_detection_short_range.tflite",
                                   (-1.0, 1.0), "faces",
                                   "in domain: real LFW faces (low resolution, upscaled)"),
    "face_landmark": ("face_landmark/face_landmark.tflite", (0.0, 1.0), "faces",
                      "in domain: real LFW face crops (25 x 25 upscaled to 192)"),
    "iris_landmark": ("iris_landmark/iris_landmark.tflite", (0.0, 1.0), "eyes",
                      "in domain: real eye crops (4 sharp portrait eyes, 200 blurry LFW eyes)"),
    "pose_landmark_full": ("pose_landmark/pose_landmark_full.tflite", (0.0, 1.0), "people",
                           ("partly in domain: 3 photos of people (astronaut, cameraman, "
                            "Grace Hopper) and LFW faces (head-only crops, off the usual "
                            "full-body framing)")),
}
# models shipped sparse by their authors: model -> (family, level, note); extracted as
# pattern "native" (the shipped weights) and "native_int8", never pruned further
NATIVE = {
    "face_detection_full_range": (
        "unstructured", 0.7,
        ("shipped sparse (TFLite DENSIFY format, no block map): every pointwise conv at 30 % "
         "weight density, depthwise convs and the heads dense (0.352 of all weights)")),
}
MODELS["face_detection_full_range"] = (
    "face_detection/face_detection_full_range_sparse.tflite", (-1.0, 1.0), "people",
    ("in domain: photos of people (astronaut, cameraman, Grace Hopper) and LFW faces; the "
     "full-range detector is made for faces at up to 5 m, these are mostly close-ups"))
LAYER_OPS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv", "FULLY_CONNECTED": "fc"}
ACT_OPS = ("RELU", "RELU6", "RELU_N1_TO_1", "PRELU", "LOGISTIC", "TANH", "HARD_SWISH")
FLOAT_TYPES = {0: np.float32, 1: np.float16}


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def model_path(rel: str) -> Path:
    """Path of a model file inside the installed mediapipe wheel (not imported)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("mediapipe is not installed (pip install -e '.[traces]')")
    return Path(next(iter(spec.submodule_search_locations))) / "modules" / rel


@dataclass(frozen=True)
class TfliteLayer:
    """One GEMM layer of a .tflite graph (tensor indices are the interpreter's)."""

    name: str
    op: str                  # CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED
    x: int                   # input activation tensor
    w: int                   # weight tensor as the op sees it (maybe a DEQUANTIZE output)
    w_const: int             # tensor holding the constant weight buffer
    out: int                 # output after activation
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    same: bool = False       # SAME padding (else VALID)


def _opts(op, cls):
    tab = op.BuiltinOptions()
    o = cls()
    o.Init(tab.Bytes, tab.Pos)
    return o


def parse_layers(buf) -> list[TfliteLayer]:
    """The GEMM layers of a .tflite flatbuffer, in execution order."""
    S = _schema()
    names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
    m = S.Model.GetRootAs(buf, 0)
    g = m.Subgraphs(0)
    ops = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        oc = m.OperatorCodes(op.OpcodeIndex())
        ops.append((names.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), "?"), op))
    producer = {}
    consumers: dict[int, list] = {}
    for kind, op in ops:
        for t in op.OutputsAsNumpy():
            producer[int(t)] = (kind, op)
        for t in op.InputsAsNumpy():
            consumers.setdefault(int(t), []).append((kind, op))
    layers = []
    for kind, op in ops:
        if kind not in LAYER_OPS:
            continue
        x, w = int(op.Inputs(0)), int(op.Inputs(1))
        w_const = w
        # float16 weights are DEQUANTIZEd, sparse ones DENSIFYed (either order, or both)
        while w_const in producer and producer[w_const][0] in ("DEQUANTIZE", "DENSIFY"):
            w_const = int(producer[w_const][1].Inputs(0))
        if w_const in producer:
            raise ValueError(f"tflite: weight tensor {w} of op {kind} is not a constant")
        out = int(op.Outputs(0))
        cons = consumers.get(out, [])
        if len(cons) == 1 and cons[0][0] in ACT_OPS:
            out = int(cons[0][1].Outputs(0))
        name = g.Tensors(int(op.Outputs(0))).Name().decode()
        kw = {}
        if kind != "FULLY_CONNECTED":
            o = _opts(op, S.Conv2DOptions if kind == "CONV_2D" else S.DepthwiseConv2DOptions)
            shape = g.Tensors(w).ShapeAsNumpy()
            kw = {"kernel": (int(shape[1]), int(shape[2])),
                  "stride": (o.StrideH(), o.StrideW()),
                  "dilation": (o.DilationHFactor(), o.DilationWFactor()),
                  "same": o.Padding() == S.Padding.SAME}
        layers.append(TfliteLayer(name=name, op=kind, x=x, w=w, w_const=w_const, out=out, **kw))
    return layers


def _const_view(buf: bytearray, tensor: int) -> np.ndarray:
    """Writable numpy view of a constant tensor's data inside ``buf`` (its real shape)."""
    S = _schema()
    g = S.Model.GetRootAs(buf, 0).Subgraphs(0)
    t = g.Tensors(tensor)
    if t.Type() not in FLOAT_TYPES:
        raise ValueError(f"tflite: weight tensor {t.Name().decode()!r} has type {t.Type()}, "
                         f"only float32/float16 weights can be pruned in place")
    b = S.Model.GetRootAs(buf, 0).Buffers(t.Buffer())
    raw = b.DataAsNumpy()
    if not isinstance(raw, np.ndarray) or raw.size == 0:
        raise ValueError(f"tflite: weight tensor {t.Name().decode()!r} has no inline buffer")
    return raw.view(FLOAT_TYPES[t.Type()]).reshape(tuple(t.ShapeAsNumpy()))


def _gemm_args(lay: TfliteLayer, x_channels: dict) -> tuple[str, str, int]:
    """``(kind, layout, groups)`` for :func:`common.gemm_weight` of one layer."""
    if lay.op == "CONV_2D":
        return "conv", "OHWI", 1
    if lay.op == "DEPTHWISE_CONV_2D":
        return "conv", "1HWO", x_channels[lay.name]     # groups = input channels
    return "fc", "NK", 1


def prune_model(buf: bytes, layers, family: str, level: float, x_channels: dict) -> bytes:
    """A copy of the flatbuffer with every layer's weights magnitude-pruned in place."""
    out = bytearray(buf)
    if family == "dense":
        return bytes(out)
    seen = set()
    for lay in layers:
        if lay.w_const in seen:
            raise ValueError(f"tflite: weight tensor of {lay.name!r} is shared between layers")
        seen.add(lay.w_const)
        view = _const_view(out, lay.w_const)
        kind, layout, groups = _gemm_args(lay, x_channels)
        gw = common.gemm_weight(view.astype(np.float32), kind, layout, groups)
        pw = common.prune(gw, family, level)
        view[...] = common.gemm_to_layout(pw, layout, view.shape).astype(view.dtype)
    return bytes(out)


def _interpreter(content: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=content, num_threads=1,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    return it


def _layer_record(it, lay: TfliteLayer, w_gemm_nz, live, q=None) -> dict:
    x = common.quant(q, f"{lay.x}", it.get_tensor(lay.x))
    out = common.quant(q, f"{lay.out}", it.get_tensor(lay.out))
    kind = LAYER_OPS[lay.op]
    if kind == "fc":
        k = w_gemm_nz.shape[1]
        return common.layer_record(lay.name, "fc", (x.reshape(1, -1, k) != 0), w_gemm_nz, out,
                                   out_axis=-1, live=live)
    x_nz = x[0] != 0
    pad = (common.same_padding(x_nz.shape[:2], lay.kernel, lay.stride, lay.dilation)
           if lay.same else (0, 0, 0, 0))
    groups = w_gemm_nz.shape[0]
    cc = common.im2col_colcount(x_nz, *lay.kernel, stride=lay.stride, pad=pad,
                                dilation=lay.dilation, groups=groups)
    return common.layer_record(lay.name, "conv", None, w_gemm_nz, out, out_axis=-1,  # NHWC
                               colcount=cc, live=live)


def _patterns(name: str) -> dict[str, tuple[str, float]]:
    """Variants of a model: every :data:`common.DEFAULT_PATTERNS`, or ``native`` (+ int8)."""
    if name in NATIVE:
        fam, lev, _ = NATIVE[name]
        return {"native": (fam, lev), "native_int8": (fam, lev)}
    return {p: common.pattern_spec(p)[:2] for p in common.DEFAULT_PATTERNS}


def extract_model(name: str, n_samples: int = N_SAMPLES, patterns=None, root=common.DATA_ROOT,
                  log=print) -> dict[str, dict]:
    """Extract every pattern of one model; returns ``{pattern: summary}``.

    ``patterns``: ``{pattern: (family, level)}`` (default: :func:`_patterns`); a name
    ending in ``_int8`` counts the zeros of int8 codes (:class:`common.Int8`, scales
    calibrated on the even-indexed samples) of the base pattern's run.
    """
    rel, (lo, hi), inset, domain = MODELS[name]
    path = model_path(rel)
    buf = path.read_bytes()
    layers = parse_layers(buf)
    dense_it = _interpreter(buf)
    size = int(dense_it.get_input_details()[0]["shape"][1])
    samples = image_samples(inset, n_samples, size, seed=SEED)
    x_channels = {lay.name: int(dense_it.get_tensor(lay.x).shape[-1]) for lay in layers}
    native = name in NATIVE
    dense_out = None
    summary = {}
    for pattern, (family, level) in (patterns or _patterns(name)).items():
        t0 = time.time()
        int8 = pattern.endswith("_int8")
        it = dense_it if family == "dense" or native else _interpreter(
            prune_model(buf, layers, family, level, x_channels))
        inp = it.get_input_details()[0]["index"]
        outs = [d["index"] for d in it.get_output_details()]
        w_nz = live = None

        def run_one(img, q, it=it, inp=inp, int8=int8):
            nonlocal w_nz, live
            it.set_tensor(inp, to_float(img, lo, hi))
            it.invoke()
            if w_nz is None:     # weights as the ops see them (after DEQUANTIZE / DENSIFY)
                w_nz = []
                for lay in layers:
                    kind, layout, groups = _gemm_args(lay, x_channels)
                    wg = common.gemm_weight(it.get_tensor(lay.w), kind, layout, groups)
                    w_nz.append(common.int8_weight_nz(wg) if int8 else wg != 0)
                live = [common.layer_live(wn) for wn in w_nz]
            return [_layer_record(it, lay, wn, lv, q) for lay, wn, lv in zip(layers, w_nz, live)]

        q = common.calibrate(run_one, samples) if int8 else None
        records, finals = {}, []
        for sid, img in samples:
            records[sid] = run_one(img, q)
            finals.append(np.concatenate([it.get_tensor(i).ravel() for i in outs])
                          .astype(np.float64))
        finals = np.stack(finals)
        if family == "dense" and not int8:
            dense_out = finals
        source = {
            "package": "mediapipe", "version": importlib.metadata.version("mediapipe"),
            "licence": "Apache-2.0",
            "file": f"mediapipe/modules/{rel}", "runtime": "ai-edge-litert (no delegates)",
            "inputs": f"traces.extract.inputs set {inset!r}, seed {SEED}, {size}x{size}, "
                      f"range [{lo}, {hi}]",
            "domain": domain,
        }
        drift = None
        if native:
            source["native_sparsity"] = NATIVE[name][2]
        elif family != "dense" and not int8:
            if dense_out is None:
                raise ValueError("extract_model: the dense pattern must come first")
            drift = (np.linalg.norm(finals - dense_out, axis=1)
                     / np.maximum(np.linalg.norm(dense_out, axis=1), 1e-12))
            source["output_drift"] = {
                "metric": "relative L2 of all model outputs vs dense",
                "mean": float(drift.mean()), "median": float(np.median(drift)),
                "max": float(drift.max())}
        if int8:
            source["int8"] = common.INT8_SOURCE
        notes = ("weights as shipped (trained sparse by the model's authors)" if native
                 else "magnitude-pruned weights, no fine-tuning" if family != "dense"
                 else "original weights")
        if int8:
            notes += ("; zeros of int8 codes (per-tensor scales calibrated on the "
                      "even-indexed samples)")
        p = common.write_variant(name, pattern, family, level, None, records, source, notes,
                                 root=root)
        work = np.array([[r["work"][1] for r in recs] for recs in records.values()]).sum(1)
        summary[pattern] = {"file": str(p), "work16_mean": float(work.mean()),
                            "drift_mean": None if drift is None else float(drift.mean()),
                            "seconds": time.time() - t0}
        log(f"{name}/{pattern}: {len(layers)} layers, {len(samples)} samples, "
            f"e2e work at 16 lanes {work.mean():.0f}"
            + (f", drift {drift.mean():.3f}" if drift is not None else "")
            + f", {time.time() - t0:.1f} s")
    return summary


def run(models=None, n_samples: int = N_SAMPLES, root=common.DATA_ROOT, log=print,
        patterns=None) -> dict:
    """Extract every MediaPipe model (or the named ones) into ``root``; ``patterns``: only
    these variant names (default: :func:`_patterns`)."""
    out = {}
    for m in models or MODELS:
        pats = _patterns(m)
        if patterns is not None:
            pats = {p: f for p, f in pats.items() if p in patterns}
        if pats:
            out[m] = extract_model(m, n_samples, patterns=pats, root=root, log=log)
    return out


if __name__ == "__main__":
    import sys
    run(sys.argv[1:] or None)

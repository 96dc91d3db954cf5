"""Traces of the PP-OCRv4 mobile OCR models (rapidocr-onnxruntime) under onnxruntime.

Models (``.onnx`` files inside the ``rapidocr_onnxruntime`` wheel, Apache-2.0):
``ocr_det`` (PP-OCRv4 text detection, 3x320x320), ``ocr_rec`` (PP-OCRv4 text recognition,
3x48x320, PPLCNetV3 + SVTR neck with 2 attention blocks), ``ocr_cls`` (PP-OCR v2.0 text
direction classifier, 3x48x192).

Method: every tensor a layer reads or produces is added as a graph output with the
``onnx`` package; the session runs with graph optimisations off (the tensors are the
model's own) on one thread. The weights are ``Constant`` nodes; pruned variants rewrite
them (same shapes) and re-run the inputs. Layers: ``Conv`` (incl. depthwise/grouped),
``ConvTranspose`` (GEMM view ``K = Cin``, ``N = Cout*kh*kw``), ``MatMul``/``Gemm`` with a
constant weight (fc), and attention: ``Q @ K^T`` (kind ``fc``, dynamic dense operand,
output = thresholded softmax) and ``softmax @ V`` (kind ``attention``, sparse operand =
probabilities above :data:`ATTN_THRESHOLD`). A layer's output is taken after its
activation (BatchNorm / bias adds followed, then ReLU, hard-swish, hard-sigmoid, clip,
sigmoid or swish), else the raw layer output. A scalar affine ``a*x + b`` between an
activation and the next layer (PPLCNetV3's learnable affine blocks in det/rec) is taken as
folded into that layer (``W' = a W``, bias ``+ b sum W``), so the activation output is the
streamed operand (exact except at the zero-padded borders of a conv).

Pruned variants prune every weight layer (the first and the heads included), as the
MediaPipe extractor does; no fine-tuning.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from traces.extract import common

__all__ = ["ATTN_THRESHOLD", "MODELS", "OnnxTracer", "extract", "model_path", "run",
           "samples"]

# Post-softmax threshold of the attention score mask (Sanger, MICRO 2021, prunes the
# softmax probabilities with a fixed threshold; 0.02 keeps the scores that are worth
# more than ~2% of a row's mass). Shared with torch_models.
ATTN_THRESHOLD = 0.02

PACKAGE = "rapidocr_onnxruntime"
# model -> (file in the wheel's models/, input shape C x H x W, default samples)
MODELS = {
    "ocr_cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", (3, 48, 192), 114),
    "ocr_rec": ("ch_PP-OCRv4_rec_infer.onnx", (3, 48, 320), 100),
    "ocr_det": ("ch_PP-OCRv4_det_infer.onnx", (3, 320, 320), 100),
    # the recogniser at each text line's natural width (rapidocr's single-line resize)
    "ocr_rec_natural": ("ch_PP-OCRv4_rec_infer.onnx", (3, 48, 320), 100),
}
# the detector at each photo's natural aspect (rapidocr's resize: shorter side >= 736)
MODELS["ocr_det_natural"] = ("ch_PP-OCRv4_det_infer.onnx", (3, 736, 736), 55)
DET_LIMIT = 736    # rapidocr config.yaml Det.limit_side_len (limit_type: min)
# models whose inputs keep their natural size: model -> shape unit (meta.shape_unit)
NATURAL = {"ocr_rec_natural": "width_px", "ocr_det_natural": "pixels"}
# variants extracted for the natural-size models (int8 zeros beside exact zeros)
NATURAL_PATTERNS = ("dense", "dense_int8")
ACTS = ("Relu", "HardSigmoid", "Sigmoid", "Clip", "LeakyRelu")


def model_path(model: str) -> Path:
    """Path of a model's ``.onnx`` file inside the installed rapidocr wheel (not imported)."""
    if model not in MODELS:
        raise ValueError(f"model_path: unknown model {model!r} (expected one of {list(MODELS)})")
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(f"{PACKAGE} is not installed (pip install {PACKAGE.replace('_', '-')})")
    p = Path(spec.origin).parent / "models" / MODELS[model][0]
    if not p.is_file():
        raise FileNotFoundError(f"{p}: model file missing from {PACKAGE}")
    return p


@dataclass
class OnnxLayer:
    name: str
    kind: str                  # conv / fc / attention
    op: str                    # Conv, ConvTranspose, MatMul, Gemm, QK, SV
    x: str                     # sparse operand tensor
    out: str                   # output after activation
    weight: str | None = None  # Constant name (None: dynamic operand)
    layout: str = ""
    groups: int = 1
    attrs: dict = field(default_factory=dict)
    other: str | None = None   # dynamic second operand (K^T or V)


class OnnxTracer:
    """Layer table of one ONNX model and sessions that expose the needed tensors."""

    def __init__(self, path: Path):
        import onnx
        from onnx import numpy_helper

        self.path = Path(path)
        self.proto = onnx.load(str(path))
        g = self.proto.graph
        self.consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t)
                       for n in g.node if n.op_type == "Constant"}
        self.consts.update({i.name: numpy_helper.to_array(i) for i in g.initializer})
        self.producer = {o: n for n in g.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.output = g.output[0].name
        self.layers = self._find_layers()
        self._cache: dict = {}

    # ---- graph analysis -------------------------------------------------------------
    def _is_const(self, t: str) -> bool:
        if t in self.consts:
            return True
        p = self.producer.get(t)
        return p is not None and p.op_type in ("Reshape", "Unsqueeze", "Cast") and all(
            self._is_const(i) for i in p.input)

    def _single(self, t: str, op: str):
        c = self.consumers.get(t, [])
        return c[0] if len(c) == 1 and c[0].op_type == op else None

    def _act_output(self, t: str) -> str:
        """Follow BatchNorm / bias adds / scaling to the activation's output tensor."""
        while True:
            cons = self.consumers.get(t, [])
            ops = sorted(c.op_type for c in cons)
            if len(cons) == 1 and cons[0].op_type in ACTS:
                return cons[0].output[0]
            if len(cons) == 1 and cons[0].op_type == "BatchNormalization":
                t = cons[0].output[0]
                continue
            if len(cons) == 1 and cons[0].op_type in ("Add", "Mul") and any(
                    self._is_const(i) for i in cons[0].input if i != t):
                t = cons[0].output[0]
                continue
            if ops == ["Add", "Mul"]:                    # hard-swish: x * clip(x+3) / 6
                add = next(c for c in cons if c.op_type == "Add")
                mul = next(c for c in cons if c.op_type == "Mul")
                clip = self._single(add.output[0], "Clip")
                div = self._single(mul.output[0], "Div")
                if clip is not None and clip.output[0] in mul.input and div is not None:
                    return div.output[0]
            if ops == ["Mul", "Mul"]:                    # swish: x * sigmoid(a x)
                for c in cons:
                    sig = self._single(c.output[0], "Sigmoid")
                    other = next(x for x in cons if x is not c)
                    if sig is not None and sig.output[0] in other.input:
                        return other.output[0]
            return t

    def _scalar(self, t: str) -> bool:
        return t in self.consts and self.consts[t].size == 1

    def _operand(self, t: str) -> str:
        """Sparse operand of a layer reading ``t``: a scalar affine ``a*x + b`` in front
        (PPLCNetV3's learnable affine block) is folded into the layer, so ``x`` is streamed."""
        add = self.producer.get(t)
        if add is None or add.op_type != "Add" or not any(map(self._scalar, add.input)):
            return t
        y = next(i for i in add.input if not self._scalar(i))
        mul = self.producer.get(y)
        if mul is None or mul.op_type != "Mul" or not any(map(self._scalar, mul.input)):
            return t
        return next(i for i in mul.input if not self._scalar(i))

    def _softmax_after(self, t: str):
        """The Softmax fed (through elementwise scale/mask ops) by tensor ``t``."""
        for _ in range(4):
            cons = self.consumers.get(t, [])
            if len(cons) != 1:
                return None
            if cons[0].op_type == "Softmax":
                return cons[0]
            if cons[0].op_type not in ("Mul", "Div", "Add"):
                return None
            t = cons[0].output[0]
        return None

    def _find_layers(self) -> list[OnnxLayer]:
        import onnx

        layers = []
        for n in self.proto.graph.node:
            a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
            name = n.output[0].removesuffix(".tmp_0")
            if n.op_type in ("Conv", "ConvTranspose"):
                if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                    raise ValueError(f"{self.path}: node {n.name}: auto_pad unsupported")
                w = n.input[1]
                if w not in self.consts:
                    raise ValueError(f"{self.path}: node {n.name}: weight {w!r} not constant")
                transposed = n.op_type == "ConvTranspose"
                if transposed and a.get("group", 1) != 1:
                    raise ValueError(f"{self.path}: node {n.name}: grouped ConvTranspose")
                layers.append(OnnxLayer(name, "conv", n.op_type, self._operand(n.input[0]),
                                        self._act_output(n.output[0]), w,
                                        "KN" if transposed else "OIHW", a.get("group", 1), a))
            elif n.op_type in ("MatMul", "Gemm"):
                x, w = n.input[0], n.input[1]
                if w in self.consts:
                    if n.op_type == "Gemm" and (a.get("transA", 0) or self.consts[w].ndim != 2):
                        raise ValueError(f"{self.path}: node {n.name}: unsupported Gemm")
                    lay = "NK" if a.get("transB", 0) else "KN"
                    layers.append(OnnxLayer(name, "fc", n.op_type, self._operand(x),
                                            self._act_output(n.output[0]), w, lay))
                    continue
                prod = self.producer.get(x)
                if prod is not None and prod.op_type == "Softmax":
                    layers.append(OnnxLayer(name, "attention", "SV", x, n.output[0], other=w))
                    continue
                sm = self._softmax_after(n.output[0])
                if sm is None:
                    raise ValueError(f"{self.path}: node {n.name}: dynamic MatMul that is "
                                     f"neither Q@K^T nor softmax@V")
                layers.append(OnnxLayer(name, "fc", "QK", x, sm.output[0], other=w))
        return layers

    # ---- weights ----------------------------------------------------------------------
    def weight_layers(self) -> list[OnnxLayer]:
        return [lay for lay in self.layers if lay.weight is not None]

    def gemm(self, lay: OnnxLayer, w: np.ndarray) -> np.ndarray:
        """GEMM view ``[groups, K, N]`` of a layer's weight array."""
        if lay.op == "ConvTranspose":
            return common.gemm_weight(w.reshape(w.shape[0], -1), "fc", "KN")
        if lay.op in ("MatMul", "Gemm"):
            return common.gemm_weight(w, "fc", lay.layout)
        return common.gemm_weight(w, "conv", "OIHW", lay.groups)

    def ungemm(self, lay: OnnxLayer, wg: np.ndarray, shape) -> np.ndarray:
        if lay.op == "ConvTranspose":
            return common.gemm_to_layout(wg, "KN", (shape[0], int(np.prod(shape[1:])))
                                         ).reshape(shape)
        return common.gemm_to_layout(wg, "OIHW" if lay.op == "Conv" else lay.layout, shape)

    def pruned_weights(self, family: str, level: float) -> dict[str, np.ndarray]:
        """``{const name: pruned array}`` for every weight layer (first and heads included)."""
        out = {}
        for lay in self.weight_layers():
            w = self.consts[lay.weight]
            if family == "dense":
                out[lay.weight] = w
                continue
            wg = common.prune(self.gemm(lay, w), family, level)
            out[lay.weight] = self.ungemm(lay, wg, w.shape).astype(w.dtype)
        return out

    # ---- running ----------------------------------------------------------------------
    def session(self, weights: dict[str, np.ndarray] | None = None):
        """onnxruntime session (no graph optimisation, 1 thread) exposing every layer tensor."""
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper

        m = onnx.ModelProto()
        m.CopyFrom(self.proto)
        for n in m.graph.node:
            if n.op_type == "Constant" and weights and n.output[0] in weights:
                t = numpy_helper.from_array(weights[n.output[0]], n.output[0])
                n.attribute[0].t.CopyFrom(t)
        have = {o.name for o in m.graph.output}
        need = [t for lay in self.layers for t in (lay.x, lay.out, lay.other) if t]
        for t in dict.fromkeys(need):
            if t not in have:
                m.graph.output.append(onnx.helper.make_tensor_value_info(
                    t, onnx.TensorProto.FLOAT, None))
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(m.SerializeToString(), so,
                                    providers=["CPUExecutionProvider"])
        return sess

    def run(self, sess, x: np.ndarray) -> dict[str, np.ndarray]:
        names = [o.name for o in sess.get_outputs()]
        vals = sess.run(names, {sess.get_inputs()[0].name: x[None].astype(np.float32)})
        return dict(zip(names, vals))

    def _wmask(self, lay: OnnxLayer, weights: dict, shape=None, int8: bool = False):
        """``(weight mask [groups, K, N], live passes per lane option)``, cached per variant;
        ``int8``: non-zeros of the per-tensor int8 codes."""
        key = (lay.name, id(weights), shape, int8)
        if key not in self._cache:
            if shape is None:
                wg = self.gemm(lay, weights[lay.weight])
                wg = common.int8_weight_nz(wg) if int8 else wg != 0
            else:
                wg = np.ones(shape, dtype=bool)
            self._cache[key] = (wg, common.layer_live(wg))
        return self._cache[key]

    def records(self, vals: dict[str, np.ndarray], weights: dict[str, np.ndarray],
                q: common.Int8 | None = None) -> list:
        """One :func:`common.layer_record` per layer from a run's tensors.

        ``q``: count the zeros of int8 codes (:class:`common.Int8`, keyed by tensor name)
        of operands, outputs and weights instead of exact zeros.
        """
        recs = []
        i8 = q is not None

        def qv(t):
            return common.quant(q, t, vals[t])

        for lay in self.layers:
            x = qv(lay.x) if lay.op != "SV" else vals[lay.x]
            if lay.op in ("Conv",):
                wg, live = self._wmask(lay, weights, int8=i8)
                kh, kw = lay.attrs["kernel_shape"]
                t, left, b, r = lay.attrs.get("pads", [0, 0, 0, 0])
                xo = common.im2col_mask(x[0].transpose(1, 2, 0) != 0, kh, kw,
                                        lay.attrs.get("strides", [1, 1]), (t, left, b, r),
                                        lay.attrs.get("dilations", [1, 1]), lay.groups)
                recs.append(common.layer_record(lay.name, "conv", xo, wg, qv(lay.out),
                                                out_axis=1, live=live))  # NCHW
                continue
            if lay.op == "ConvTranspose":
                xo = (x[0].reshape(x.shape[1], -1).T != 0)[None]
                wg, live = self._wmask(lay, weights, int8=i8)
            elif lay.weight is not None:
                xo = (x.reshape(-1, x.shape[-1]) != 0)[None]
                wg, live = self._wmask(lay, weights, int8=i8)
            elif lay.op == "QK":
                xo = x.reshape(-1, *x.shape[-2:]) != 0              # [heads, S, dh]
                kt = vals[lay.other]
                wg, live = self._wmask(lay, weights, (xo.shape[0], *kt.shape[-2:]))
                p = vals[lay.out]
                recs.append(common.layer_record(lay.name, "fc", xo, wg, p >= ATTN_THRESHOLD,
                                                out_axis=-1, live=live))
                continue
            else:                                                   # SV
                # the mask p >= 0.02 survives int8 (codes of p have scale <= 1/127)
                p = x.reshape(-1, *x.shape[-2:])
                mask = p >= ATTN_THRESHOLD
                v = vals[lay.other].reshape(-1, *vals[lay.other].shape[-2:])
                wg, live = self._wmask(lay, weights, v.shape)
                out = common.quant(q, f"{lay.name}:out", np.matmul(np.where(mask, p, 0), v))
                recs.append(common.layer_record(lay.name, "attention", mask, wg, out, out_axis=-1,
                                                live=live))
                continue
            # ConvTranspose: NCHW, kh*kw consecutive columns per output channel
            recs.append(common.layer_record(lay.name, lay.kind, xo, wg, qv(lay.out),
                                            out_axis=1 if lay.op == "ConvTranspose" else -1,
                                            live=live))
        return recs


# ---- inputs -------------------------------------------------------------------------
def _norm_pad(img: np.ndarray, shape) -> np.ndarray:
    """rapidocr's rec/cls preprocessing: keep aspect, height to H, width <= W, (x-0.5)/0.5,
    zero padding on the right (after normalisation). Pillow bilinear resize."""
    from PIL import Image

    _, h, w = shape
    rw = min(w, math.ceil(h * img.shape[1] / img.shape[0]))
    r = np.asarray(Image.fromarray(img).resize((rw, h), Image.BILINEAR), dtype=np.float32)
    out = np.zeros(shape, dtype=np.float32)
    out[:, :, :rw] = (r.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return out


def _norm_natural(img: np.ndarray, shape) -> np.ndarray:
    """rapidocr's recogniser preprocessing of one text line (a batch of one): height to H,
    width ``max(W, ceil(H * w / h))`` (``max_wh_ratio`` starts at ``W / H``, so a short line
    is zero-padded to ``W`` = 320 and a long one keeps its natural width), (x-0.5)/0.5.
    Pillow bilinear resize (rapidocr: OpenCV)."""
    _, h, w = shape
    ratio = img.shape[1] / img.shape[0]
    width = int(h * max(w / h, ratio))
    return _norm_pad(img, (3, h, width))


def _rec_natural_samples():
    """Real prose lines of natural length: each paragraph wrapped to a column of 12-72
    characters, its first or its last (shorter) line; 6 fonts, 4 colour schemes. Stdlib
    text only (pydoc topics), so the test environment re-creates the same inputs."""
    from traces.extract.text_inputs import corpus_paragraphs, line_chunks, render_line

    pars = corpus_paragraphs(sklearn=False)
    fonts = ("sans", "serif", "mono", "bold", "italic", "cm")
    columns = (12, 20, 28, 40, 56, 72)
    step = max(1, len(pars) // 200)
    for k, j in enumerate(range(0, len(pars), step)):
        pid, par = pars[j]
        col = columns[k % len(columns)]
        chunks = line_chunks(par, col)
        last = (k // len(columns)) % 2 == 1 and len(chunks) > 1
        line = chunks[-1] if last else chunks[0]
        font = fonts[(k // 2) % len(fonts)]
        fg, bg = ((20, 235), (235, 30), (15, 120), (60, 200))[k % 4]   # incl. inverse, dim
        yield (f"{pid}-c{col}{'-last' if last else ''}-{font}-{k % 4}",
               render_line(line, font=font, size=30, fg=fg, bg=bg))


def _cls_samples():
    from traces.extract.text_inputs import render_line, zen_lines

    for i, line in enumerate(zen_lines()):
        for font in ("sans", "serif", "mono"):
            img = render_line(line, font=font, size=32)
            for rot in (0, 180):
                yield f"zen{i:02d}-{font}-r{rot}", (img if rot == 0 else img[::-1, ::-1])


def _rec_samples():
    from traces.extract.text_inputs import corpus_paragraphs, line_chunks, render_line

    pars = corpus_paragraphs()
    fonts = ("sans", "serif", "mono", "bold", "italic", "cm")
    step = max(1, len(pars) // 200)
    for k, j in enumerate(range(0, len(pars), step)):
        pid, par = pars[j]
        line = line_chunks(par, 22)[0]
        font = fonts[k % len(fonts)]
        fg, bg = ((20, 235), (235, 30), (15, 120), (60, 200))[k % 4]   # incl. inverse, dim
        yield f"{pid}-{font}-{k % 4}", render_line(line, font=font, size=30, fg=fg, bg=bg)


def _photo_originals():
    """The det photos at their own size: ``[(name, uint8 [H, W, 3])]``."""
    import skimage.data as sd
    from sklearn.datasets import load_sample_images

    imgs = [(n, getattr(sd, n)()) for n in ("astronaut", "camera", "chelsea", "coffee",
                                            "coins", "rocket", "page", "text", "horse")]
    imgs += list(zip(("china", "flower"), load_sample_images().images))
    out = []
    for n, im in imgs:
        im = np.asarray(im)
        if im.dtype == bool:
            im = np.where(im, 255, 0).astype(np.uint8)
        if im.ndim == 2:
            im = np.repeat(im[:, :, None], 3, axis=2)
        out.append((n, np.ascontiguousarray(im[:, :, :3])))
    return out


def det_resize(img: np.ndarray, limit: int = DET_LIMIT) -> np.ndarray:
    """rapidocr's detector resize (``limit_type: min``): scale up so the shorter side is at
    least ``limit``, then round each side to a multiple of 32. Pillow bilinear."""
    from PIL import Image

    h, w = img.shape[:2]
    ratio = limit / min(h, w) if min(h, w) < limit else 1.0
    rh = max(32, int(round(int(h * ratio) / 32) * 32))
    rw = max(32, int(round(int(w * ratio) / 32) * 32))
    return np.asarray(Image.fromarray(img).resize((rw, rh), Image.BILINEAR), dtype=np.uint8)


def _det_natural_samples():
    """Every det photo at its own aspect ratio, as is and with 1-8 rendered prose lines
    (font size scaled to the image), then rapidocr's resize (shorter side 736)."""
    from traces.extract.text_inputs import corpus_paragraphs, line_chunks, render_page

    bgs = _photo_originals()
    pars = corpus_paragraphs(sklearn=False)
    fonts = ("sans", "serif", "mono", "bold")
    k = 0
    for rep in range(5):
        for n, bg in bgs:
            if rep == 0:
                yield f"{n}-plain", det_resize(bg)
                continue
            pid, par = pars[(k * 37) % len(pars)]
            scale = min(bg.shape[:2]) / 320
            fsize = max(8, int((12, 16, 20, 26)[k % 4] * scale))
            lines = line_chunks(par, max(8, int(bg.shape[1] / (0.6 * fsize))))[:1 + k % 8]
            box = None if k % 3 == 0 else (245, 245, 240)
            img = render_page(lines, bg, font=fonts[k % 4], size=fsize,
                              origin=(4 + 7 * (k % 5), 6 + 11 * (k % 7)), box=box,
                              fg=(10, 10, 10) if box else (250, 250, 40))
            if k % 4 == 3:                    # low light: darken (the paper's low-light set)
                img = (img.astype(np.float32) * 0.35).astype(np.uint8)
            yield f"{n}-{pid}-{fonts[k % 4]}{fsize}", det_resize(img)
            k += 1


def _photo_backgrounds(size: int):
    """Real photos (skimage, scikit-learn) as ``[(name, uint8 [size, size, 3])]``: the det
    photos (:func:`_photo_originals`) centre-cropped square and resized."""
    from PIL import Image

    out = []
    for n, im in _photo_originals():
        s = min(im.shape[:2])
        y0, x0 = (im.shape[0] - s) // 2, (im.shape[1] - s) // 2
        sq = Image.fromarray(np.ascontiguousarray(im[y0:y0 + s, x0:x0 + s]))
        out.append((n, np.asarray(sq.resize((size, size), Image.BILINEAR), dtype=np.uint8)))
    return out


def _det_samples(size: int = 320):
    from traces.extract.text_inputs import corpus_paragraphs, line_chunks, render_page

    bgs = _photo_backgrounds(size)
    pars = corpus_paragraphs()
    fonts = ("sans", "serif", "mono", "bold")
    k = 0
    for rep in range(9):
        for n, bg in bgs:
            if rep == 0:                      # the photo itself (page/text contain text)
                yield f"{n}-plain", bg
                continue
            pid, par = pars[(k * 37) % len(pars)]
            fsize = (12, 16, 20, 26)[k % 4]
            lines = line_chunks(par, max(8, int(size / (0.6 * fsize))))[:8]
            box = None if k % 3 == 0 else (245, 245, 240)
            img = render_page(lines, bg, font=fonts[k % 4], size=fsize,
                              origin=(4 + 7 * (k % 5), 6 + 11 * (k % 7)), box=box,
                              fg=(10, 10, 10) if box else (250, 250, 40))
            if k % 4 == 3:                    # low light: darken (the paper's low-light set)
                img = (img.astype(np.float32) * 0.35).astype(np.uint8)
            yield f"{n}-{pid}-{fonts[k % 4]}{fsize}", img
            k += 1


def samples(model: str, n: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Deterministic ``[(sample id, preprocessed input C x H x W float32)]`` for a model."""
    shape = MODELS[model][1]
    gen = {"ocr_cls": _cls_samples, "ocr_rec": _rec_samples, "ocr_det": _det_samples,
           "ocr_rec_natural": _rec_natural_samples,
           "ocr_det_natural": _det_natural_samples}[model]
    out = []
    for sid, img in gen():
        if len(out) == (n or MODELS[model][2]):
            break
        if model in ("ocr_det", "ocr_det_natural"):
            x = (img.astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
        elif model in NATURAL:
            x = _norm_natural(img, shape)
        else:
            x = _norm_pad(img, shape)
        out.append((sid, x))
    return out


# ---- extraction ---------------------------------------------------------------------
def _drift(model: str, y: np.ndarray, y0: np.ndarray) -> dict:
    """Output drift of a pruned variant against dense on one sample."""
    diff, norm0 = float(np.linalg.norm(y - y0)), float(np.linalg.norm(y0))
    if model.startswith("ocr_det"):
        a, b = y > 0.3, y0 > 0.3
        union = (a | b).sum()
        agree = float((a & b).sum() / union) if union else 1.0          # text-map IoU
    elif model.startswith("ocr_rec"):
        agree = float(np.array_equal(_ctc(y), _ctc(y0)))               # same decoded string
    else:
        agree = float(np.argmax(y) == np.argmax(y0))                   # same direction
    return {"diff": diff, "norm0": norm0, "agree": agree}


def _ctc(p: np.ndarray) -> list[int]:
    ids = p.reshape(-1, p.shape[-1]).argmax(axis=1)
    return [int(c) for i, c in enumerate(ids) if c != 0 and (i == 0 or c != ids[i - 1])]


def extract(model: str, pattern: str, n_samples: int | None = None,
            inputs=None, dense_outputs: dict | None = None):
    """Records of one variant: ``({sample id: [layer records]}, {sample id: final output})``.

    Pure: runs the model (pruned to ``pattern``) on :func:`samples` (or ``inputs``).
    """
    family, level, int8 = common.pattern_spec(pattern)
    tr = OnnxTracer(model_path(model))
    w = tr.pruned_weights(family, level)
    sess = tr.session(None if family == "dense" else w)
    inputs = list(inputs if inputs is not None else samples(model, n_samples))
    q = (common.calibrate(lambda x, q: tr.records(tr.run(sess, x), w, q), inputs)
         if int8 else None)
    recs, outs = {}, {}
    for sid, x in inputs:
        vals = tr.run(sess, x)
        recs[sid] = tr.records(vals, w, q)
        outs[sid] = vals[tr.output]
    return recs, outs


def natural_shapes(model: str, inputs) -> dict[str, int]:
    """The input size of every natural-size sample, what a host knows at arrival: the width
    (recogniser, height fixed at 48) or the pixel count H x W (detector)."""
    if NATURAL[model] == "pixels":
        return {sid: int(x.shape[-1] * x.shape[-2]) for sid, x in inputs}
    return {sid: int(x.shape[-1]) for sid, x in inputs}


DOMAIN = {
    "ocr_cls": "in domain: rendered printed English text lines, upright and rotated 180 deg",
    "ocr_rec": "in domain: rendered printed English text lines (model trained on Chinese + "
               "English); clean synthetic renderings, no camera noise",
    "ocr_det": "partly: photos with rendered paragraphs are in domain; 'plain' photos "
               "without text are negatives (page/text photos contain real text)",
    "ocr_det_natural": "partly: photos with rendered paragraphs are in domain; 'plain' "
                       "photos are negatives (page/text contain real text)",
    "ocr_rec_natural": "in domain: rendered printed English text lines of natural length "
                       "(model trained on Chinese + English); clean renderings",
}


def source(model: str, drift: list[dict] | None = None) -> dict:
    from importlib.metadata import version

    src = _source(model, version)
    src["domain"] = DOMAIN[model]
    if drift:
        src["output_drift"] = drift_summary(model, drift)
    return src


def drift_summary(model: str, drift: list[dict]) -> dict:
    """``output_drift`` entry of ``meta.source`` (same keys as the MediaPipe extractor)."""
    norm0 = np.array([d["norm0"] for d in drift])
    ok = norm0 > 1e-3 * np.median(norm0)     # relative error undefined for ~zero dense output
    rel = np.array([d["diff"] for d in drift])[ok] / norm0[ok]
    agree = {"ocr_det": "mean IoU of the text maps (p > 0.3) with dense",
             "ocr_rec": "fraction of samples decoding to the same string as dense",
             "ocr_rec_natural": "fraction of samples decoding to the same string as dense",
             "ocr_det_natural": "mean IoU of the text maps (p > 0.3) with dense",
             "ocr_cls": "fraction of samples with the same direction as dense",
             "efficientnet_lite0": "top-1 agreement with dense",
             "minilm_l6": "mean cosine of the sentence embeddings with dense"}[
                 model.removesuffix("_natural")]
    return {"metric": "relative L2 of the model output vs dense", "mean": float(rel.mean()),
            "median": float(np.median(rel)), "max": float(rel.max()),
            "excluded": int((~ok).sum()), "excluded_why": "dense output norm < 1e-3 x median "
            "(e.g. no text detected at all): relative error undefined",
            "task_metric": agree, "task": float(np.mean([d["agree"] for d in drift]))}


def _source(model: str, version) -> dict:
    return {"package": "rapidocr-onnxruntime", "version": version("rapidocr-onnxruntime"),
            "licence": "Apache-2.0", "file": MODELS[model][0],
            "runtime": f"onnxruntime {version('onnxruntime')} (ORT_DISABLE_ALL, 1 thread)",
            "inputs": {"ocr_cls": "Zen of Python lines rendered (matplotlib fonts), 0/180 deg",
                       "ocr_rec": "pydoc/sklearn prose lines rendered (matplotlib fonts)",
                       "ocr_det": "skimage/sklearn photos, with rendered paragraphs",
                       "ocr_det_natural": "skimage/sklearn photos at their own aspect, with "
                                          "rendered paragraphs, rapidocr's det resize",
                       "ocr_rec_natural": "pydoc topics prose lines of natural length "
                                          "(12-72 character columns) rendered (matplotlib "
                                          "fonts), rapidocr's single-line width rule"}[model],
            "attention_threshold": ATTN_THRESHOLD}


def run(out_root=common.DATA_ROOT, n_samples: int | None = None, models=None,
        patterns=None, log=print) -> dict:
    """Extract every pattern of every OCR model into ``out_root``; returns drift summary."""
    summary = {}
    for model in models or MODELS:
        ins = samples(model, n_samples)
        kw = {}
        if model in NATURAL:
            kw = {"shapes": natural_shapes(model, ins), "shape_unit": NATURAL[model],
                  "notes_suffix": ("; natural text-line widths (rapidocr's single-line resize)"
                                   if model == "ocr_rec_natural" else
                                   "; natural aspect, shorter side >= 736 (rapidocr's resize)")}
        summary.update(common.extract_patterns(
            model, ins, extract=extract, drift=_drift,
            summarize=drift_summary, source=source,
            notes_prefix=f"attention mask p >= {ATTN_THRESHOLD}; ",
            patterns=patterns or (NATURAL_PATTERNS if model in NATURAL else None),
            root=out_root, log=log, **kw))
    return summary

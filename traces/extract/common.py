"""Framework-independent pieces of trace extraction.

Every extractor (TFLite, ONNX, PyTorch) reduces a layer to the datapath's GEMM view:
``groups`` GEMMs of ``M`` rows x ``K`` reduction x ``N`` output columns, with the sparse
operand ``x [groups, M, K]`` (im2col rows of the input activation, fc inputs, or the
thresholded attention score matrix) and the weights ``w [groups, K, N]``. ``K`` is always
ordered ``(kh, kw, cin)``, the same order :func:`im2col_mask` produces.

Contents: :func:`gemm_weight` / :func:`gemm_to_layout` (framework layout <-> GEMM view),
:func:`prune` (magnitude pruning to the pattern families), :func:`im2col_mask` /
:func:`im2col_colcount` (conv operand masks), :func:`layer_record` (one layer's counts,
work counts), :func:`write_variant` (a trace file via :func:`traces.format.save_variant`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from traces.format import LAYER_FIELDS, PATTERN_FAMILIES, TRACE_ROOT, Layer, Variant, save_variant
from traces.work import LANE_OPTIONS, passes

__all__ = [
    "BLOCK",
    "DATA_ROOT",
    "PATTERNS",
    "Int8",
    "compact_columns",
    "gemm_to_layout",
    "gemm_weight",
    "im2col",
    "im2col_colcount",
    "im2col_mask",
    "layer_live",
    "layer_record",
    "live_passes",
    "prune",
    "same_padding",
    "work_from_colcount",
    "write_variant",
]

DATA_ROOT = TRACE_ROOT / "data"
BLOCK = 8   # block pruning granularity along N: 1 x BLOCK, aligned to the smallest lane group
# pattern name -> (family, level); the variants every model is extracted for
PATTERNS = {
    "dense": ("dense", 0.0),
    "unstructured50": ("unstructured", 0.5), "unstructured75": ("unstructured", 0.75),
    "block50": ("block", 0.5), "block75": ("block", 0.75),
    "channel50": ("channel", 0.5), "channel75": ("channel", 0.75),
}
# the variants an extractor writes by default: every pattern, and the dense model's int8 zeros
DEFAULT_PATTERNS = (*PATTERNS, "dense_int8")
LAYOUTS = ("OHWI", "1HWO", "OIHW", "NK", "KN")


def _pair(v, what):
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"{what}: expected an int or a pair, got {v!r}")
    return v


def gemm_weight(w: np.ndarray, kind: str, layout: str, groups: int = 1) -> np.ndarray:
    """Canonical GEMM view ``[groups, K, N]`` of a conv / fc weight.

    Parameters
    ----------
    w : array
        The weight in its framework layout.
    kind : ``"conv"`` or ``"fc"``
    layout : str
        ``"OHWI"`` (TFLite conv), ``"1HWO"`` (TFLite depthwise, channel multiplier folded
        into O), ``"OIHW"`` (ONNX / PyTorch conv, grouped or depthwise), ``"NK"`` (fc weight
        ``[out, in]``: TFLite FULLY_CONNECTED, torch Linear), ``"KN"`` (fc ``[in, out]``).
    groups : int
        Convolution groups. For ``"1HWO"`` it is the number of input channels ``C``
        (``O = C * multiplier``); output column ``n`` of group ``g`` is channel
        ``g * (O // groups) + n``.

    Returns
    -------
    array ``[groups, K, N]`` with ``K`` ordered ``(kh, kw, cin_per_group)``; a copy.
    """
    w = np.asarray(w)
    if kind not in ("conv", "fc"):
        raise ValueError(f"gemm_weight: kind must be 'conv' or 'fc', got {kind!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"gemm_weight: unknown layout {layout!r} (expected one of {LAYOUTS})")
    if layout in ("NK", "KN"):
        if w.ndim != 2 or groups != 1:
            raise ValueError(f"gemm_weight: fc layout {layout} needs a 2-d weight and "
                             f"groups=1, got shape {w.shape}, groups={groups}")
        return np.array(w.T if layout == "NK" else w)[None]
    if w.ndim != 4:
        raise ValueError(f"gemm_weight: conv layout {layout} needs a 4-d weight, "
                         f"got shape {w.shape}")
    if layout == "OIHW":
        w = w.transpose(0, 2, 3, 1)     # -> OHWI
        layout = "OHWI"
    if layout == "1HWO":
        _, kh, kw, o = w.shape
        if w.shape[0] != 1 or o % groups:
            raise ValueError(f"gemm_weight: 1HWO weight {w.shape} does not fit groups={groups}")
        return np.ascontiguousarray(w.reshape(kh * kw, groups, o // groups).transpose(1, 0, 2))
    o = w.shape[0]
    if o % groups:
        raise ValueError(f"gemm_weight: {o} output channels not divisible by groups={groups}")
    og = o // groups
    return np.ascontiguousarray(w.reshape(groups, og, -1).transpose(0, 2, 1))


def gemm_to_layout(w_gemm: np.ndarray, layout: str, shape: Sequence[int]) -> np.ndarray:
    """Inverse of :func:`gemm_weight`: the framework-layout weight of ``shape``."""
    w_gemm = np.asarray(w_gemm)
    shape = tuple(int(s) for s in shape)
    if w_gemm.ndim != 3:
        raise ValueError(f"gemm_to_layout: expected [groups, K, N], got shape {w_gemm.shape}")
    if layout == "NK":
        out = w_gemm[0].T
    elif layout == "KN":
        out = w_gemm[0]
    elif layout == "1HWO":
        out = w_gemm.transpose(1, 0, 2).reshape(shape)
    elif layout == "OHWI":
        out = w_gemm.transpose(0, 2, 1).reshape(shape)
    elif layout == "OIHW":
        o, i, kh, kw = shape
        out = w_gemm.transpose(0, 2, 1).reshape(o, kh, kw, i).transpose(0, 3, 1, 2)
    else:
        raise ValueError(f"gemm_to_layout: unknown layout {layout!r} (expected one of {LAYOUTS})")
    if out.shape != shape:
        raise ValueError(f"gemm_to_layout: GEMM view {w_gemm.shape} does not give {shape}")
    return np.ascontiguousarray(out)


class Int8:
    """Per-tensor symmetric int8 quantisation calibrated on real inputs (max |x|).

    The int8 datapath sees ``q = clip(round(x / s), -127, 127)`` with one scale
    ``s = max|x| / 127`` per tensor, so values below ``s / 2`` are zeros it skips. Calling
    ``q(key, x)`` while :attr:`calibrating` records ``max|x|`` of tensor ``key`` and returns
    ``x``; after :meth:`freeze` it returns the quantised values (as floats: the int8 codes),
    whose zeros are the ones an int8 engine sees. ``None`` instead of an ``Int8`` means no
    quantisation (exact zeros); :func:`quant` handles both.
    """

    def __init__(self):
        self.amax: dict[str, float] = {}
        self.calibrating = True

    def freeze(self) -> Int8:
        self.calibrating = False
        return self

    def __call__(self, key: str, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if self.calibrating:
            m = float(np.abs(x).max()) if x.size else 0.0
            self.amax[key] = max(self.amax.get(key, 0.0), m)
            return x
        if key not in self.amax:
            raise KeyError(f"Int8: tensor {key!r} was not seen during calibration")
        return int8_codes(x, self.amax[key])


def int8_codes(x: np.ndarray, amax: float) -> np.ndarray:
    """int8 codes (as float32) of ``x`` at the symmetric scale ``amax / 127``."""
    x = np.asarray(x, dtype=np.float32)
    if amax <= 0:
        return np.zeros_like(x)
    return np.clip(np.round(x * np.float32(127.0 / amax)), -127, 127)


def quant(q: Int8 | None, key: str, x: np.ndarray) -> np.ndarray:
    """``q(key, x)``, or ``x`` itself when ``q`` is None (exact zeros)."""
    return x if q is None else q(key, x)


def int8_weight_nz(w_gemm: np.ndarray) -> np.ndarray:
    """Non-zero mask of a GEMM-view weight ``[groups, K, N]`` after symmetric int8
    quantisation per output column (= per output channel, the usual int8 weight scheme:
    TFLite per-axis, ONNX per-channel): scale ``max_k |w[g, k, n]| / 127``."""
    w = np.asarray(w_gemm, dtype=np.float32)
    if w.ndim != 3:
        raise ValueError(f"int8_weight_nz: expected a GEMM view [groups, K, N], got {w.shape}")
    amax = np.abs(w).max(axis=1, keepdims=True)
    scale = np.where(amax > 0, amax, 1.0) * np.float32(1 / 127)
    return (np.clip(np.round(w / scale), -127, 127) != 0) & (amax > 0)


def _smallest(scores: np.ndarray, level: float) -> np.ndarray:
    """Mask of the ``round(level * n)`` smallest scores, at most ``n - 1`` (one survives).

    Ties are broken by index (stable sort).
    """
    flat = scores.ravel()
    n_prune = min(round(level * flat.size), flat.size - 1)
    mask = np.zeros(flat.size, dtype=bool)
    mask[np.argsort(flat, kind="stable")[:n_prune]] = True
    return mask.reshape(scores.shape)


def prune(w_gemm: np.ndarray, family: str, level: float, block: int = BLOCK) -> np.ndarray:
    """Magnitude-prune a GEMM-view weight ``[groups, K, N]``; returns a pruned copy.

    ``dense``: identity. ``unstructured``: the ``level`` fraction of weights of smallest
    ``|w|`` over the whole layer. ``block``: ``1 x block`` tiles along ``N`` (column tiles
    ``[j*block, (j+1)*block)`` of each row ``k``, aligned to the lane groups), the
    ``level`` fraction of tiles with smallest L1 norm. ``channel``: whole output columns
    (filters), the ``level`` fraction with smallest L1 norm over the layer. Counts are
    rounded to the nearest integer, keeping at least one unit per layer; ties are broken by
    position (deterministic).
    """
    if family not in PATTERN_FAMILIES:
        raise ValueError(f"prune: family must be one of {PATTERN_FAMILIES}, got {family!r}")
    if not 0 <= level < 1:
        raise ValueError(f"prune: level must be in [0, 1), got {level!r}")
    w = np.array(w_gemm, copy=True)
    if w.ndim != 3:
        raise ValueError(f"prune: expected a GEMM view [groups, K, N], got shape {w.shape}")
    if family == "dense" or level == 0:
        return w
    a = np.abs(w.astype(np.float64))
    if family == "unstructured":
        w[_smallest(a, level)] = 0
    elif family == "channel":
        cut = _smallest(a.sum(axis=1), level)                  # [groups, N]
        w[np.broadcast_to(cut[:, None, :], w.shape)] = 0
    else:
        g, k, n = w.shape
        nb = passes(n, block)
        pad = np.zeros((g, k, nb * block))
        pad[:, :, :n] = a
        cut = _smallest(pad.reshape(g, k, nb, block).sum(axis=3), level)   # [g, K, nb]
        w[np.repeat(cut, block, axis=2)[:, :, :n]] = 0
    return w


def same_padding(size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                 dilation: Sequence[int] = (1, 1)) -> tuple[int, int, int, int]:
    """TensorFlow ``SAME`` padding ``(top, left, bottom, right)`` for an ``(H, W)`` input."""
    pads = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        out = -(-n // s)
        pads.append(max((out - 1) * s + (k - 1) * d + 1 - n, 0))
    (ph, pw) = pads
    return ph // 2, pw // 2, ph - ph // 2, pw - pw // 2


def _windows(x_nz, kh, kw, stride, pad, dilation):
    """Yield ``(i, j, view [Ho, Wo, C])`` of the padded input for every kernel tap."""
    x = np.asarray(x_nz)
    if x.ndim != 3:
        raise ValueError(f"im2col: expected an [H, W, C] mask, got shape {x.shape}")
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    top, left, bottom, right = (int(p) for p in pad)
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    hp, wp, _ = xp.shape
    ho = (hp - (kh - 1) * dh - 1) // sh + 1
    wo = (wp - (kw - 1) * dw - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"im2col: kernel {kh}x{kw} does not fit input {x.shape} with pad {pad}")
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[i * dh:i * dh + sh * (ho - 1) + 1:sh,
                           j * dw:j * dw + sw * (wo - 1) + 1:sw]


def _check_groups(c, groups):
    if groups < 1 or c % groups:
        raise ValueError(f"im2col: {c} input channels not divisible by groups={groups}")


def im2col_mask(x_nz: np.ndarray, kh: int, kw: int, stride=1, pad=(0, 0, 0, 0), dilation=1,
                groups: int = 1) -> np.ndarray:
    """im2col of a non-zero mask ``[H, W, C]`` -> ``[groups, M, K]`` bool.

    ``M = Ho * Wo`` (row-major output positions), ``K = kh * kw * C / groups`` ordered
    ``(kh, kw, cin)``; ``pad`` is ``(top, left, bottom, right)`` zero padding.
    """
    return im2col(np.asarray(x_nz, dtype=bool), kh, kw, stride, pad, dilation, groups)


def im2col(x: np.ndarray, kh: int, kw: int, stride=1, pad=(0, 0, 0, 0), dilation=1,
           groups: int = 1) -> np.ndarray:
    """im2col of any ``[H, W, C]`` array (values, not a mask); see :func:`im2col_mask`."""
    c = np.shape(x)[2]
    _check_groups(c, groups)
    taps = [v for _, _, v in _windows(x, kh, kw, stride, pad, dilation)]
    t = np.stack(taps, axis=2)                     # [Ho, Wo, kh*kw, C]
    ho, wo = t.shape[:2]
    t = t.reshape(ho * wo, kh * kw, groups, c // groups).transpose(2, 0, 1, 3)
    return np.ascontiguousarray(t.reshape(groups, ho * wo, kh * kw * (c // groups)))


def _taps(n: int, k: int, s: int, d: int, before: int, after: int):
    """Per kernel tap along one axis: ``(phase, u0, u1)``, the input indices it reads.

    Tap ``i`` reads input indices ``i*d - before + s*t`` for the ``t`` of every output
    position; those inside ``[0, n)`` are ``phase + s*u`` for ``u`` in ``[u0, u1)``.
    """
    out_n = (n + before + after - (k - 1) * d - 1) // s + 1
    if out_n < 1:
        raise ValueError(f"im2col: kernel {k} (dilation {d}) does not fit size {n} "
                         f"with padding {before}+{after}")
    res = []
    for i in range(k):
        r0 = i * d - before
        r1 = r0 + s * (out_n - 1)                   # last index read (inclusive)
        ph = r0 % s
        first = r0 if r0 >= 0 else r0 + s * (-(r0 // s))
        last = min(r1, ph + s * ((n - 1 - ph) // s)) if n - 1 >= ph else first - s
        u0, u1 = (first - ph) // s, (last - ph) // s + 1
        res.append((ph, u0, max(u0, u1)))
    return out_n, res


def im2col_colcount(x_nz: np.ndarray, kh: int, kw: int, stride=1, pad=(0, 0, 0, 0),
                    dilation=1, groups: int = 1) -> tuple[int, np.ndarray]:
    """``(M, counts [groups, K])``: per-column non-zeros of :func:`im2col_mask`, without it.

    ``counts == im2col_mask(...).sum(axis=1)`` exactly; it is all :func:`layer_record`
    needs (work is linear in the per-column counts), computed in about one pass over the
    input instead of ``kh * kw``.
    """
    x = np.asarray(x_nz, dtype=bool)
    if x.ndim != 3:
        raise ValueError(f"im2col: expected an [H, W, C] mask, got shape {x.shape}")
    h, w, c = x.shape
    _check_groups(c, groups)
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    top, left, bottom, right = (int(p) for p in pad)
    ho, rows = _taps(h, kh, sh, dh, top, bottom)
    wo, cols = _taps(w, kw, sw, dw, left, right)
    xu = x.view(np.uint8)
    full = {p: xu[:, p::sw].sum(axis=1, dtype=np.int64) for p in {ph for ph, _, _ in cols}}
    cnt = np.zeros((kh, kw, c), dtype=np.int64)
    for j, (pw, v0, v1) in enumerate(cols):
        ncol = len(range(pw, w, sw))
        b = full[pw].copy()                                  # [H, C] row sums over the tap's
        if v0 > 0:                                           # columns: all of the phase
            b -= xu[:, pw:pw + sw * v0:sw].sum(axis=1, dtype=np.int64)   # minus the ends
        if v1 < ncol:
            b -= xu[:, pw + sw * v1::sw].sum(axis=1, dtype=np.int64)
        for i, (ph, u0, u1) in enumerate(rows):
            cnt[i, j] = b[ph + sh * u0:ph + sh * u1:sh].sum(axis=0) if u1 > u0 else 0
    cg = c // groups
    return ho * wo, np.ascontiguousarray(cnt.reshape(kh * kw, groups, cg).transpose(1, 0, 2)
                                         .reshape(groups, kh * kw * cg))


def live_passes(w_nz: np.ndarray, lanes: int) -> np.ndarray:
    """``[groups, K]`` int: for each weight row, the passes whose lane block is not all zero.

    Depends on the weights only, so extractors compute it once per layer and variant.
    """
    w_nz = np.asarray(w_nz, dtype=bool)
    g, k, n = w_nz.shape
    p = passes(n, lanes)
    pad = np.zeros((g, k, p * lanes), dtype=bool)
    pad[:, :, :n] = w_nz
    return pad.reshape(g, k, p, lanes).any(axis=3).sum(axis=2, dtype=np.int64)


def work_from_colcount(colcount: np.ndarray, w_nz: np.ndarray, lanes: int,
                       live: np.ndarray | None = None) -> int:
    """Work count from per-column operand non-zeros; equals :func:`traces.work.work_count`.

    ``live`` is :func:`live_passes` of ``w_nz`` if already known.
    """
    if live is None:
        live = live_passes(w_nz, lanes)
    return int((np.asarray(colcount, dtype=np.int64) * live).sum(dtype=np.int64))


def compact_columns(w_gemm_nz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(w [groups, K, N'], keep [N] bool)``: the weights the host hands the engine.

    The host drops the output columns that are all zero in every group (pruned output
    channels are not computed: channel pruning acts through the columns that remain);
    ``N'`` = surviving columns. Grouped / depthwise layers keep their rectangular shape, so
    a column survives if any group uses it.
    """
    w = np.asarray(w_gemm_nz, dtype=bool)
    if w.ndim != 3:
        raise ValueError(f"compact_columns: expected [groups, K, N], got shape {w.shape}")
    keep = w.any(axis=(0, 1))
    return (w if keep.all() else np.ascontiguousarray(w[:, :, keep])), keep


def layer_live(w_gemm_nz: np.ndarray) -> list[np.ndarray]:
    """:func:`live_passes` of the compacted weights for every ``LANE_OPTIONS``: the
    per-variant cache :func:`layer_record` accepts as ``live``."""
    w, _ = compact_columns(w_gemm_nz)
    return [live_passes(w, lanes) for lanes in LANE_OPTIONS]


def _kept_output(name: str, out: np.ndarray, out_axis: int | None, keep: np.ndarray,
                 groups: int) -> np.ndarray:
    """The elements of ``out`` in the output channels that are computed."""
    if keep.all():
        return out
    if out_axis is None:
        raise ValueError(f"layer_record({name}): output columns are pruned away but "
                         f"out_axis (the output-channel axis of out_act) is not given")
    o = np.moveaxis(out, out_axis, -1)
    cols = np.tile(keep, groups)                     # column g*N + n of the layer
    c = o.shape[-1]
    if c == 0 or cols.size % c:
        raise ValueError(f"layer_record({name}): out_act axis {out_axis} has {c} channels, "
                         f"not a divisor of groups*N = {cols.size}")
    return o[..., cols.reshape(c, -1).any(axis=1)]  # a channel is computed if any column is


def layer_record(name: str, kind: str, x_op_nz: np.ndarray | None, w_gemm_nz: np.ndarray,
                 out_act: np.ndarray, *, out_axis: int | None = None,
                 colcount: tuple[int, np.ndarray] | None = None,
                 live: Sequence[np.ndarray] | None = None) -> dict:
    """One layer's trace record for one sample.

    The weights are first compacted (:func:`compact_columns`): output columns that are all
    zero in every group are dropped, so ``N`` is the number of surviving columns and the
    work, ``macs`` and ``weight_density`` are those of the compacted matrix;
    ``out_size`` / ``out_nnz`` cover the computed output channels only.

    Parameters
    ----------
    name, kind : str
        Layer name and kind (``conv``, ``fc``, ``attention``).
    x_op_nz : bool ``[groups, M, K]`` or None
        Non-zero mask of the sparse operand; or None with ``colcount=(M, counts [groups, K])``
        from :func:`im2col_colcount` (same result, less memory).
    w_gemm_nz : bool ``[groups, K, N]``
        Non-zero mask of the weights in the GEMM view (all True for attention's V).
    out_act : array
        The layer's output after its activation function; ``out_nnz`` counts its non-zeros.
    out_axis : int, optional
        Output-channel axis of ``out_act`` (-1 for NHWC / fc, 1 for NCHW); channel ``c``
        holds the ``groups * N / channels`` consecutive columns ``g * N + n``. Required
        when a column is dropped.
    live : list of arrays, optional
        :func:`layer_live` of the weights (a cache).

    Returns
    -------
    dict with the static fields of :data:`traces.format.LAYER_FIELDS` plus ``in_nnz``
    (non-zeros of the sparse operand as streamed), ``out_nnz``, ``work`` (one count per
    ``LANE_OPTIONS``).
    """
    w_full = np.asarray(w_gemm_nz, dtype=bool)
    if w_full.ndim != 3:
        raise ValueError(f"layer_record({name}): weight mask must be [groups, K, N], "
                         f"got shape {w_full.shape}")
    w_nz, keep = compact_columns(w_full)
    groups, k, n = w_nz.shape
    if x_op_nz is not None:
        x = np.asarray(x_op_nz, dtype=bool)
        if x.ndim != 3 or x.shape[0] != groups or x.shape[2] != k:
            raise ValueError(f"layer_record({name}): operand {x.shape} and weights "
                             f"{w_full.shape} disagree")
        m, cnt = x.shape[1], x.sum(axis=1, dtype=np.int64)
    elif colcount is not None:
        m, cnt = colcount
        cnt = np.asarray(cnt, dtype=np.int64)
        if cnt.shape != (groups, k):
            raise ValueError(f"layer_record({name}): column counts {cnt.shape} and weights "
                             f"{w_full.shape} disagree")
    else:
        raise ValueError(f"layer_record({name}): give x_op_nz or colcount")
    if live is None:
        live = [live_passes(w_nz, lanes) for lanes in LANE_OPTIONS]
    work = [work_from_colcount(cnt, w_nz, lanes, lv) for lanes, lv in zip(LANE_OPTIONS, live)]
    out = _kept_output(name, np.asarray(out_act), out_axis, keep, groups)
    return {
        "name": name, "kind": kind, "M": int(m), "K": int(k), "N": int(n),
        "groups": int(groups), "macs": int(groups * m * k * n), "out_size": int(out.size),
        "weight_density": float(w_nz.mean()),
        "in_nnz": int(cnt.sum()), "out_nnz": int(np.count_nonzero(out)), "work": work,
    }


def _natural_static(model, pattern, samples, per_sample_records, L):
    """Static layer fields and ``rows`` / ``cols`` of samples of different shapes.

    ``M`` / ``N`` / ``K`` are the maxima over samples; ``out_size`` is the output size at
    ``M x N`` (every sample's output size must scale exactly with its rows and columns).
    """
    S = len(samples)
    rows = np.zeros((S, L), dtype=np.int64)
    cols = np.zeros((S, L), dtype=np.int64)
    for s, sid in enumerate(samples):
        for j, rec in enumerate(per_sample_records[sid]):
            rows[s, j], cols[s, j] = rec["M"], rec["N"]
    static = []
    for j in range(L):
        recs = [per_sample_records[sid][j] for sid in samples]
        first = recs[0]
        m, n = int(rows[:, j].max()), int(cols[:, j].max())
        k = max(r["K"] for r in recs)
        top = recs[int(np.argmax(rows[:, j] * cols[:, j]))]
        if (top["M"], top["N"]) != (m, n):
            raise ValueError(f"write_variant({model}/{pattern}): layer {j} has no sample of "
                             f"the largest shape {m} x {n}")
        for sid, r in zip(samples, recs):
            for key in ("name", "kind", "groups"):
                if r[key] != first[key]:
                    raise ValueError(f"write_variant({model}/{pattern}): sample {sid!r} "
                                     f"layer {j} field {key!r} = {r[key]!r}, expected "
                                     f"{first[key]!r}")
            if r["out_size"] * m * n != top["out_size"] * r["M"] * r["N"]:
                raise ValueError(f"write_variant({model}/{pattern}): sample {sid!r} layer "
                                 f"{j}: out_size {r['out_size']} does not scale with its "
                                 f"{r['M']} x {r['N']} shape")
        static.append({"name": first["name"], "kind": first["kind"], "M": m, "K": k, "N": n,
                       "groups": first["groups"], "macs": first["groups"] * m * k * n,
                       "out_size": top["out_size"],
                       "weight_density": top["weight_density"]})
    return static, rows, cols


def write_variant(model: str, pattern: str, family: str, level: float,
                  layers_static: Sequence[Mapping] | None,
                  per_sample_records: Mapping[str, Sequence[Mapping]],
                  source: Mapping, notes: str = "", root: Path | str = DATA_ROOT, *,
                  shapes: Mapping[str, int] | None = None, shape_unit: str = "") -> Path:
    """Write ``<root>/<model>/<pattern>.npz`` from per-sample layer records.

    ``per_sample_records`` maps sample id -> list of :func:`layer_record` dicts, in
    sample order. ``layers_static`` (the static layer fields) may be None: it is then
    taken from the first sample. Every sample must agree with it; a mismatch is an error.
    With ``shapes`` (sample id -> the input size a host knows at arrival, in
    ``shape_unit``) the samples may differ in ``M`` / ``N`` / ``K`` (inputs of natural size):
    the file then stores the per-sample ``rows`` / ``cols`` and ``shape``
    (:func:`_natural_static`).
    """
    if not per_sample_records:
        raise ValueError(f"write_variant({model}/{pattern}): no samples")
    samples = list(per_sample_records)
    first = per_sample_records[samples[0]]
    L = len(layers_static or first)
    for sid in samples:
        if len(per_sample_records[sid]) != L:
            raise ValueError(f"write_variant({model}/{pattern}): sample {sid!r} has "
                             f"{len(per_sample_records[sid])} layers, expected {L}")
    extra = {}
    if shapes is not None:
        if not shape_unit:
            raise ValueError(f"write_variant({model}/{pattern}): shapes need a shape_unit")
        static, rows, cols = _natural_static(model, pattern, samples, per_sample_records, L)
        extra = {"rows": rows, "cols": cols if (cols != cols.max(axis=0)).any() else None,
                 "shape": np.array([shapes[sid] for sid in samples], dtype=np.int64),
                 "shape_unit": shape_unit}
    else:
        static = [{k: lay[k] for k in LAYER_FIELDS} for lay in (layers_static or first)]
    S = len(samples)
    arr = {k: np.zeros((S, L), dtype=np.int64) for k in ("in_nnz", "out_nnz")}
    work = np.zeros((S, L, len(LANE_OPTIONS)), dtype=np.int64)
    for s, sid in enumerate(samples):
        recs = per_sample_records[sid]
        for j, (rec, st) in enumerate(zip(recs, static)):
            if shapes is None:
                for k, v in st.items():
                    if k != "weight_density" and rec[k] != v:
                        raise ValueError(f"write_variant({model}/{pattern}): sample {sid!r} "
                                         f"layer {j} field {k!r} = {rec[k]!r}, expected {v!r}")
            for k, a in arr.items():
                a[s, j] = rec[k]
            work[s, j] = rec["work"]
    v = Variant(model=model, pattern=pattern, family=family, level=float(level),
                lane_options=tuple(LANE_OPTIONS),
                layers=tuple(Layer(**st) for st in static), samples=tuple(samples),
                in_nnz=arr["in_nnz"], out_nnz=arr["out_nnz"], work=work,
                source=dict(source), notes=notes, **extra)
    return save_variant(v, Path(root) / model / f"{pattern}.npz")


def pattern_spec(pattern: str) -> tuple[str, float, bool]:
    """``(family, level, int8)`` of a variant name: :data:`PATTERNS`, or an int8 variant
    ``<base>_int8`` (the base pattern's weights, zeros counted on int8 codes)."""
    base = pattern.removesuffix("_int8")
    if base not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r} (expected one of {list(PATTERNS)}, "
                         f"optionally with the suffix '_int8')")
    return (*PATTERNS[base], base != pattern)


INT8_SOURCE = {
    "zeros": "counted on int8 codes: q = clip(round(x / s), -127, 127), symmetric; "
             "operands and outputs per tensor, s = max|x| / 127; weights per output channel "
             "(GEMM column), s = max_k |w| / 127; the float model runs unchanged (no "
             "fake-quantised forward)",
    "calibration": "max |x| of each activation tensor over the even-indexed samples of this "
                   "trace (samples 0, 2, 4, ...); weights: their own max per output channel",
    "attention": "the score mask p >= threshold is kept: int8 codes of p (scale <= 1/127) "
                 "are non-zero for every p >= 0.02",
}


def calibrate(run_one, inputs) -> Int8:
    """An :class:`Int8` calibrated by ``run_one(x, q)`` on the even-indexed ``inputs``."""
    q = Int8()
    for _, x in list(inputs)[::2]:
        run_one(x, q)
    return q.freeze()


def extract_patterns(model: str, inputs, *, extract, drift, summarize, source,
                     notes_prefix: str = "", notes_suffix: str = "", patterns=None,
                     root: Path | str = DATA_ROOT, log=print, shapes=None,
                     shape_unit: str = "") -> dict:
    """Extract and write every pattern of one model; the loop every extractor's ``run`` shares.

    ``extract(model, pattern, inputs=) -> (records, outputs)``; ``drift(model, y, y0)`` compares
    one sample's pruned output with the dense one (dense must come first, as in
    :data:`PATTERNS`); ``summarize(model, drifts)`` and ``source(model, drifts)`` give the
    summary entry and the ``meta.source``. ``shapes`` / ``shape_unit``: inputs of natural
    size (see :func:`write_variant`). Int8 variants (:func:`pattern_spec`) have no drift
    (same weights as their base). Returns ``{(model, pattern): drift summary}``.
    """
    summary, dense_out = {}, None
    for pattern in patterns or DEFAULT_PATTERNS:
        family, level, int8 = pattern_spec(pattern)
        recs, outs = extract(model, pattern, inputs=inputs)
        if pattern == "dense":
            dense_out = outs
        notes = (f"{len(inputs)} samples; {notes_prefix}"
                 + ("original weights" if family == "dense"
                    else "magnitude-pruned weights, no fine-tuning") + notes_suffix
                 + ("; zeros of int8 codes (per-tensor scales calibrated on the even-indexed "
                    "samples)" if int8 else ""))
        d = None
        if family != "dense" and not int8 and dense_out is None:
            raise ValueError(f"extract_patterns({model}): pruned pattern {pattern!r} needs "
                             f"'dense' earlier in the same run (its output drift)")
        if family != "dense" and not int8:
            d = [drift(model, outs[s], dense_out[s]) for s in outs]
            summary[(model, pattern)] = summarize(model, d)
        src = dict(source(model, d))
        if int8:
            src["int8"] = INT8_SOURCE
        p = write_variant(model, pattern, family, level, None, recs, src, notes, root=root,
                          shapes=shapes, shape_unit=shape_unit)
        log(f"{p}: {len(recs)} samples, {len(next(iter(recs.values())))} layers")
    return summary

"""Numpy integer reference of the datapath and the host-side buffer formats.

Functional contract of one layer (``groups`` GEMMs)::

    acc[g, m, n] = sum_k x[g, m, k] * w[g, k, n]            (exact, int32 range)
    y[g, m, n]   = sat_int8(acc >> shift)                     (arithmetic shift = floor)
    y            = max(y, 0) if act == RELU else y

Buffer formats (what the host writes through the engine's ``load`` port):

* sparse operand, row ``r = x_base + g*M + m``: ``XMASK[r]`` = bitmap of its non-zero
  ``k``; ``XPTR[r]`` = start of its packed non-zeros in ``XVAL`` (ascending ``k``).
* weights, word ``w_base + (g*passes + p)*K + k`` = ``w[g, k, p*P : p*P+P]`` (lanes past
  ``N`` are zero); ``LIVE[live_base + g*passes + p]`` = bitmap of ``k`` whose word is not
  all zero.
* output stream: per output row, in order ``g, m``, its non-zero ``(value, index)`` in
  ascending column order; the row's last entry has ``last=1``; when column ``N-1`` is
  zero an extra ``nz=0`` entry with ``index=N-1`` closes the row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traces.work import passes

from .layouts import ACC, ACT, Activation

__all__ = [
    "LayerData",
    "as_groups",
    "compress_rows",
    "conv_layer",
    "decode_entries",
    "im2col",
    "layer_reference",
    "out_entries",
    "weight_words",
]

_I8 = (-(1 << (ACT.width - 1)), (1 << (ACT.width - 1)) - 1)
_I32 = (-(1 << (ACC.width - 1)), (1 << (ACC.width - 1)) - 1)


def as_groups(a: np.ndarray, name: str) -> np.ndarray:
    """``a`` as a 3-D int64 array ``[groups, rows, cols]`` holding int8 values."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{name}: expected a 2-D or 3-D array, got shape {a.shape}")
    if a.size and (a.min() < _I8[0] or a.max() > _I8[1]):
        raise ValueError(f"{name}: values must be int8, got range [{a.min()}, {a.max()}]")
    return a.astype(np.int64)


@dataclass
class LayerData:
    """One layer's operands: ``x [groups, M, K]``, ``w [groups, K, N]`` (int8), shift, act."""
    x: np.ndarray
    w: np.ndarray
    shift: int = 0
    act: Activation = Activation.RELU

    def __post_init__(self):
        self.x = as_groups(self.x, "x")
        self.w = as_groups(self.w, "w")
        if self.x.shape[0] != self.w.shape[0] or self.x.shape[2] != self.w.shape[1]:
            raise ValueError(f"LayerData: x shape {self.x.shape} and w shape {self.w.shape} "
                             "disagree (expected [g, M, K] and [g, K, N])")
        if not 0 <= self.shift < 32:
            raise ValueError(f"LayerData.shift must be in 0..31, got {self.shift!r}")
        self.act = Activation(self.act)

    @property
    def shape(self) -> dict:
        g, m, k = self.x.shape
        return {"groups": g, "M": m, "K": k, "N": self.w.shape[2]}


def layer_reference(layer: LayerData) -> np.ndarray:
    """Output ``y [groups, M, N]`` (int64 holding int8 values) of one layer."""
    acc = np.einsum("gmk,gkn->gmn", layer.x, layer.w)
    if acc.size and (acc.min() < _I32[0] or acc.max() > _I32[1]):
        raise ValueError("layer_reference: accumulator left the int32 range")
    y = np.clip(acc >> layer.shift, *_I8)
    if layer.act == Activation.RELU:
        y = np.maximum(y, 0)
    return y


def compress_rows(x: np.ndarray, val_base: int = 0) -> tuple[list[int], list[int], list[int]]:
    """Bitmaps, row pointers and packed values of the rows of ``x [..., K]``."""
    x = np.asarray(x)
    rows = x.reshape(int(np.prod(x.shape[:-1])), x.shape[-1])
    masks, ptrs, vals = [], [], []
    for row in rows:
        nz = np.flatnonzero(row)
        masks.append(sum(1 << int(k) for k in nz))
        ptrs.append(val_base + len(vals))
        vals.extend(int(row[k]) for k in nz)
    return masks, ptrs, vals


def weight_words(w: np.ndarray, lanes: int) -> tuple[list[list[int]], list[int]]:
    """Weight words (``lanes`` int8 each) in ``(g, p, k)`` order and live bitmaps in ``(g, p)``."""
    w = as_groups(w, "w")
    g, k, n = w.shape
    words, live = [], []
    for gi in range(g):
        for p in range(passes(n, lanes)):
            blk = np.zeros((k, lanes), dtype=np.int64)
            cols = w[gi, :, p * lanes:(p + 1) * lanes]
            blk[:, :cols.shape[1]] = cols
            words.extend([int(v) for v in row] for row in blk)
            live.append(sum(1 << int(kk) for kk in np.flatnonzero(blk.any(axis=1))))
    return words, live


def out_entries(y: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Expected output stream ``(value, index, nz, last)`` of output ``y [groups, M, N]``."""
    y = np.asarray(y)
    entries = []
    for row in y.reshape(int(np.prod(y.shape[:-1])), y.shape[-1]):
        n = len(row)
        for j, v in enumerate(row):
            if v != 0 or j == n - 1:
                entries.append((int(v), j, int(v != 0), int(j == n - 1)))
    return entries


def decode_entries(entries, groups: int, m: int, n: int) -> np.ndarray:
    """Dense ``[groups, M, N]`` output from a stream of ``(value, index, nz, last)``."""
    y = np.zeros((groups * m, n), dtype=np.int64)
    r = 0
    for value, index, nz, last in entries:
        if r >= groups * m:
            raise ValueError(f"decode_entries: more than {groups * m} rows in the stream")
        if nz:
            y[r, index] = value
        r += last
    if r != groups * m:
        raise ValueError(f"decode_entries: {r} rows in the stream, expected {groups * m}")
    return y.reshape(groups, m, n)


def im2col(img: np.ndarray, kh: int, kw: int, *, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Host-side im2col: ``img [C, H, W]`` -> rows ``[Ho*Wo, C*kh*kw]`` (zero padding).

    Column order ``(c, i, j)`` matches ``weight.reshape(Cout, -1).T`` of a
    ``[Cout, C, kh, kw]`` conv weight.
    """
    img = np.asarray(img)
    c, h, w = img.shape
    p = np.pad(img, ((0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    if ho <= 0 or wo <= 0:
        raise ValueError(f"im2col: kernel {kh}x{kw} larger than padded input {p.shape[1:]}")
    rows = np.empty((ho * wo, c * kh * kw), dtype=img.dtype)
    for r in range(ho):
        for s in range(wo):
            patch = p[:, r * stride:r * stride + kh, s * stride:s * stride + kw]
            rows[r * wo + s] = patch.reshape(-1)
    return rows


def conv_layer(img, weight, *, stride=1, pad=0, groups=1, shift=0,
               act=Activation.RELU) -> LayerData:
    """A (grouped / depthwise) conv as a :class:`LayerData` via host-side im2col.

    ``img [C, H, W]``, ``weight [Cout, C/groups, kh, kw]``; output ``[groups, Ho*Wo, Cout/groups]``.
    """
    img, weight = np.asarray(img), np.asarray(weight)
    c = img.shape[0]
    cout, cg, kh, kw = weight.shape
    if c % groups or cout % groups or cg != c // groups:
        raise ValueError(f"conv_layer: C={c}, Cout={cout}, weight {weight.shape} do not fit "
                         f"groups={groups}")
    ng = cout // groups
    xs = [im2col(img[g * cg:(g + 1) * cg], kh, kw, stride=stride, pad=pad) for g in range(groups)]
    ws = [weight[g * ng:(g + 1) * ng].reshape(ng, -1).T for g in range(groups)]
    return LayerData(np.stack(xs), np.stack(ws), shift=shift, act=act)

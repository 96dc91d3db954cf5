"""Numpy integer reference of the datapath and the host-side buffer formats.

Functional contract of one layer (``groups`` GEMMs)::

    acc[g, m, n] = sum_k x[g, m, k] * w[g, k, n]            (exact, int32 range)
    y[g, m, n]   = sat_int8(acc >> shift)                     (arithmetic shift = floor)
    y            = max(y, 0) if act == RELU else y

Buffer formats (what the host writes through the engine's ``load`` port, one whole word
per write; ``max_k`` and ``P`` are the engine's):

* sparse operand, row ``r = x_base + g*M + m``: ``XROW[r]`` = the row's ``K`` int8 values,
  zeros included, value ``k`` in bits ``[8k, 8k+8)``, zero past ``K`` (:func:`row_words`).
* weights, word ``w_base + (g*passes + p)*K + k`` = ``w[g, k, p*P : p*P+P]``, lane ``j`` in
  bits ``[8j, 8j+8)`` (lanes past ``N`` are zero); ``LIVE[live_base + g*passes + p]`` =
  the ``P`` lanes' weight non-zero bitmaps, bit ``j*max_k + k`` for ``w[g, k, p*P+j] != 0``
  (:func:`weight_words`, :func:`live_words`).
* output stream: one entry per row pass, in order ``g, m, p``: the pass's ``P`` output
  values (0 past ``N``), their non-zero bitmap ``nz``, the first column ``col = p*P`` and
  ``last`` = the row's last pass (:func:`out_entries`, :func:`decode_entries`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traces.work import passes

from .layouts import ACC, ACT, Activation

__all__ = [
    "LayerData",
    "as_groups",
    "conv_layer",
    "decode_entries",
    "im2col",
    "layer_reference",
    "live_words",
    "out_entries",
    "row_words",
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


def row_words(x: np.ndarray) -> list[int]:
    """XROW words of the rows of ``x [..., K]``: value ``k`` as a byte at bits ``8k``."""
    x = np.asarray(x)
    rows = x.reshape(int(np.prod(x.shape[:-1])), x.shape[-1])
    byte = (1 << ACT.width) - 1
    return [sum((int(v) & byte) << (ACT.width * k) for k, v in enumerate(row) if v)
            for row in rows]


def weight_words(w: np.ndarray, lanes: int) -> list[list[int]]:
    """Weight words (``lanes`` int8 each) in ``(g, p, k)`` order."""
    w = as_groups(w, "w")
    g, k, n = w.shape
    words = []
    for gi in range(g):
        for p in range(passes(n, lanes)):
            blk = np.zeros((k, lanes), dtype=np.int64)
            cols = w[gi, :, p * lanes:(p + 1) * lanes]
            blk[:, :cols.shape[1]] = cols
            words.extend([int(v) for v in row] for row in blk)
    return words


def live_words(w: np.ndarray, lanes: int, max_k: int) -> list[int]:
    """LIVE words in ``(g, p)`` order: bit ``j*max_k + k`` = weight ``(k, p*lanes + j)`` is
    non-zero."""
    w = as_groups(w, "w")
    g, k, n = w.shape
    if k > max_k:
        raise ValueError(f"live_words: K = {k} exceeds max_k = {max_k}")
    out = []
    for gi in range(g):
        for p in range(passes(n, lanes)):
            cols = w[gi, :, p * lanes:(p + 1) * lanes] != 0
            out.append(sum(1 << (j * max_k + int(kk))
                           for j in range(cols.shape[1]) for kk in np.flatnonzero(cols[:, j])))
    return out


def out_entries(y: np.ndarray, lanes: int) -> list[tuple[tuple[int, ...], int, int, int]]:
    """Expected output stream ``(values, nz, col, last)`` of output ``y [groups, M, N]``."""
    y = np.asarray(y)
    n = y.shape[-1]
    npass = passes(n, lanes)
    entries = []
    for row in y.reshape(int(np.prod(y.shape[:-1])), n):
        for p in range(npass):
            vals = [int(v) for v in row[p * lanes:(p + 1) * lanes]]
            vals += [0] * (lanes - len(vals))
            nz = sum(1 << j for j, v in enumerate(vals) if v)
            entries.append((tuple(vals), nz, p * lanes, int(p == npass - 1)))
    return entries


def decode_entries(entries, groups: int, m: int, n: int, lanes: int) -> np.ndarray:
    """Dense ``[groups, M, N]`` output from a stream of ``(values, nz, col, last)``."""
    npass = passes(n, lanes)
    if len(entries) != groups * m * npass:
        raise ValueError(f"decode_entries: {len(entries)} entries, expected "
                         f"{groups * m * npass} ({groups * m} rows x {npass} passes)")
    y = np.zeros((groups * m, npass * lanes), dtype=np.int64)
    for i, (values, nz, col, last) in enumerate(entries):
        r, p = divmod(i, npass)
        if col != p * lanes or last != int(p == npass - 1):
            raise ValueError(f"decode_entries: entry {i} has col {col}, last {last}; expected "
                             f"col {p * lanes}, last {int(p == npass - 1)}")
        if nz != sum(1 << j for j, v in enumerate(values) if v):
            raise ValueError(f"decode_entries: entry {i}: nz {nz:#x} disagrees with its values")
        y[r, col:col + lanes] = values
    if (y[:, n:] != 0).any():
        raise ValueError("decode_entries: a value past column N - 1 is non-zero")
    return y[:, :n].reshape(groups, m, n)


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

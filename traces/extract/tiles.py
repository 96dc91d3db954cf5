"""Real int8 layer tiles for the datapath tests and bench: ``python -m traces.extract.tiles``.

A tile is a small crop of one real layer of the OCR text-direction classifier (``ocr_cls``,
rapidocr-onnxruntime PP-LCNet, see ``traces/SOURCES.md``) run by onnxruntime on one real
input (the first ``ocr_cls`` trace sample), dense and magnitude-pruned (:data:`PATTERNS`):

* ``x [groups, M, K]`` int8: the real im2col operand rows of the layer's input activation
  (:func:`traces.extract.common.im2col`, ``K`` ordered ``(kh, kw, cin)``), quantised with one
  symmetric per-tensor scale ``max|activation| / 127``; a real non-zero that would round to
  0 becomes +-1, so the operand's zeros are exactly the real activation's zeros;
* ``w [groups, K, N]`` int8: the layer's real weights in the GEMM view (pruned for the
  pruned variant, all-zero columns compacted away as the host does, see
  :func:`traces.extract.common.compact_columns`), same symmetric per-tensor quantisation,
  non-zeros kept non-zero;
* ``shift``: the smallest right shift that maps the tile's largest |accumulator| into int8;
  ``act``: RELU where the real layer's activation is ReLU, else IDENTITY (the engine has
  no hard-swish; bias and batch-norm shifts are not applied).

Crop: :data:`ROWS` consecutive output positions starting at the middle one (row-major),
the first :data:`MAX_GROUPS` groups and the first :data:`MAX_N` columns; ``K`` is the
layer's full reduction. Files ``traces/tiles/<model>_<tile>_<pattern>.npz`` are written
byte-reproducibly (stored zip, fixed timestamps): regenerating gives identical bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from traces.extract import common
from traces.format import TRACE_ROOT

__all__ = [
    "MODEL",
    "PATTERNS",
    "TILES",
    "TILE_ROOT",
    "load_tile",
    "main",
    "make_tiles",
    "tile_paths",
    "write_tiles",
]

TILE_ROOT = TRACE_ROOT / "tiles"
MODEL = "ocr_cls"
SAMPLE = 0                          # index into onnx_models.samples(MODEL)
PATTERNS = ("dense", "block50", "unstructured75")
TILES = {                           # tile name -> ONNX layer (see onnx_models.OnnxTracer)
    "conv3x3": "conv2d_53",         # stem 3x3 stride 2 conv on the image, K = 27
    "conv1x1": "conv2d_61",         # pointwise conv after a ReLU depthwise conv, K = 32
    "dw3x3": "depthwise_conv2d_1",  # 3x3 depthwise conv on a ReLU output, K = 9
    "conv1x1w": "conv2d_78",        # wide pointwise conv (N = 48: three 16-lane passes)
}
ROWS = 24
MAX_GROUPS = 4
MAX_N = 48
QMAX = 127
ACTS = ("identity", "relu")         # names of rtl.accelerator.layouts.Activation members
_DATE = (1980, 1, 1, 0, 0, 0)


def _quantise(a: np.ndarray, scale: float) -> np.ndarray:
    """Symmetric int8 of ``a / scale``; real non-zeros never become zero."""
    q = np.clip(np.round(a / scale), -QMAX, QMAX)
    q = np.where((q == 0) & (a != 0), np.sign(a), q)
    return q.astype(np.int8)


def _scale(a: np.ndarray) -> float:
    m = float(np.abs(a).max())
    return m / QMAX if m > 0 else 1.0


def _tile(tr, lay, vals: dict, weights: dict) -> tuple[dict, dict]:
    """``(arrays, meta)`` of one tile of layer ``lay`` from a run's tensors."""
    xin = vals[lay.x][0].transpose(1, 2, 0)                          # CHW -> HWC
    kh, kw = lay.attrs["kernel_shape"]
    pad = tuple(lay.attrs.get("pads", [0, 0, 0, 0]))                 # (t, l, b, r)
    cols = common.im2col(xin, kh, kw, lay.attrs.get("strides", [1, 1]), pad,
                         lay.attrs.get("dilations", [1, 1]), lay.groups)   # [g, M, K]
    wg = tr.gemm(lay, weights[lay.weight])
    _, keep = common.compact_columns(wg != 0)
    wg = wg[:, :, keep]
    g, m, k = cols.shape
    m0 = m // 2
    if m0 + ROWS > m:
        raise ValueError(f"{MODEL} layer {lay.name}: M={m} has fewer than {m0 + ROWS} rows")
    gt, nt = min(g, MAX_GROUPS), min(wg.shape[2], MAX_N)
    sx, sw = _scale(xin), _scale(wg)
    x = _quantise(cols[:gt, m0:m0 + ROWS], sx)
    w = _quantise(wg[:gt, :, :nt], sw)
    acc = np.einsum("gmk,gkn->gmn", x.astype(np.int64), w.astype(np.int64))
    shift = max(0, int(np.abs(acc).max()).bit_length() - 7)
    act = "relu" if "relu" in lay.out else "identity"
    meta = {"model": MODEL, "layer": lay.name, "op": lay.op, "kernel": [kh, kw],
            "strides": list(lay.attrs.get("strides", [1, 1])), "pads": list(pad),
            "layer_shape": {"groups": g, "M": m, "K": k, "N": int(wg.shape[2])},
            "layer_in_nnz": int(np.count_nonzero(cols)),       # = the trace's in_nnz
            "crop": {"row0": m0, "rows": ROWS, "groups": gt, "N": nt},
            "x_scale": sx, "w_scale": sw, "act": act, "shift": shift,
            "x_density": float((x != 0).mean()), "w_density": float((w != 0).mean())}
    return {"x": x, "w": w}, meta


def make_tiles() -> dict[str, tuple[dict, dict]]:
    """``{file stem: (arrays, meta)}`` for every tile and pattern (runs onnxruntime)."""
    from importlib.metadata import version

    from traces.extract import onnx_models

    sid, x = onnx_models.samples(MODEL, SAMPLE + 1)[SAMPLE]
    tr = onnx_models.OnnxTracer(onnx_models.model_path(MODEL))
    by_name = {lay.name: lay for lay in tr.layers}
    out = {}
    for pattern in PATTERNS:
        family, level = common.PATTERNS[pattern]
        weights = tr.pruned_weights(family, level)
        vals = tr.run(tr.session(None if family == "dense" else weights), x)
        for tile, name in TILES.items():
            arrays, meta = _tile(tr, by_name[name], vals, weights)
            meta.update(tile=tile, pattern=pattern, family=family, level=level, sample=sid,
                        source={"package": "rapidocr-onnxruntime",
                                "version": version("rapidocr-onnxruntime"),
                                "licence": "Apache-2.0", "file": onnx_models.MODELS[MODEL][0],
                                "runtime": f"onnxruntime {version('onnxruntime')}"})
            out[f"{MODEL}_{tile}_{pattern}"] = (arrays, meta)
    return out


def _npz_bytes(arrays: dict, meta: dict) -> bytes:
    """A stored (uncompressed) ``.npz`` with fixed timestamps: same input, same bytes."""
    buf = io.BytesIO()
    items = {**arrays, "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(),
                                             dtype=np.uint8)}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, a in items.items():
            b = io.BytesIO()
            np.lib.format.write_array(b, np.ascontiguousarray(a), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_DATE), b.getvalue())
    return buf.getvalue()


def write_tiles(root: Path | str = TILE_ROOT) -> list[Path]:
    """Generate every tile into ``root``; returns the paths written."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, (arrays, meta) in make_tiles().items():
        p = root / f"{stem}.npz"
        p.write_bytes(_npz_bytes(arrays, meta))
        paths.append(p)
    return paths


def tile_paths(root: Path | str = TILE_ROOT) -> list[Path]:
    """The committed tile files, sorted."""
    return sorted(Path(root).glob("*.npz"))


def load_tile(path: Path | str) -> dict:
    """``{"x", "w" (int64 arrays), "shift", "act" (name), "meta"}`` of one tile file."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as z:
        missing = {"x", "w", "meta"} - set(z.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        x, w = z["x"].astype(np.int64), z["w"].astype(np.int64)
        meta = json.loads(z["meta"].tobytes().decode())
    if x.ndim != 3 or w.ndim != 3 or x.shape[0] != w.shape[0] or x.shape[2] != w.shape[1]:
        raise ValueError(f"{path}: field 'x'/'w' shapes {x.shape} / {w.shape} disagree")
    if meta.get("act") not in ACTS:
        raise ValueError(f"{path}: field 'act' = {meta.get('act')!r}, expected one of {ACTS}")
    return {"x": x, "w": w, "shift": int(meta["shift"]), "act": meta["act"], "meta": meta}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m traces.extract.tiles", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(TILE_ROOT), help="output directory")
    a = ap.parse_args(argv)
    for p in write_tiles(a.out):
        t = load_tile(p)
        print(f"{p}: x {t['x'].shape} density {t['meta']['x_density']:.3f}, "
              f"w {t['w'].shape} density {t['meta']['w_density']:.3f}, shift {t['shift']}")


if __name__ == "__main__":
    main()

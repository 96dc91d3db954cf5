"""Trace format v2: per-sample, per-layer sparsity and datapath work of one model variant.

One file per model variant (model x static sparsity pattern x level):
``traces/<set>/<model>/<pattern>.npz`` (numpy ``savez_compressed``, no pickles) with

``meta``      uint8 array holding UTF-8 JSON (see :data:`META_FIELDS`, :data:`LAYER_FIELDS`)
``in_nnz``    int64 ``[S, L]``  non-zeros of each layer's sparse operand (input / scores)
``out_nnz``   int64 ``[S, L]``  non-zeros of each layer's output after its activation
``work``      int64 ``[S, L, len(lane_options)]``  datapath work counts per lane option
              (:mod:`traces.work`)
``rows``      int64 ``[S, L]``, optional: each sample's own ``M`` (``1 <= rows <= layer.M``,
              the layer's ``M`` being the maximum) for inputs of natural size (token count,
              image width); absent: every sample has ``M`` rows
``cols``      int64 ``[S, L]``, optional: each sample's own ``N`` (``1 <= cols <= layer.N``;
              attention ``Q @ K^T`` has one column per token); absent: ``N``
``shape``     int64 ``[S]``, optional: the input size a host knows at arrival (the unit is
              ``meta.shape_unit``, e.g. ``tokens``, ``width_px``); required with ``rows``

Traces store facts only: cycles follow from the work counts through the datapath cycle
model at the lane count a simulation asks for (never stored; v1 files stored them).

``S`` samples (ids in ``meta.samples``), ``L`` layers (``meta.layers``). The format is
documented in ``docs/trace_format.md``. :func:`load_variant` validates everything and
raises :class:`TraceError` naming the file, the field and the offending value.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DAMAGED_DRIFT",
    "LAYER_KINDS",
    "PATTERN_FAMILIES",
    "TRACE_ROOT",
    "TRACE_VERSION",
    "Layer",
    "TraceError",
    "Variant",
    "check_fields",
    "load_set",
    "load_variant",
    "save_variant",
]

TRACE_VERSION = 2
TRACE_ROOT = Path(__file__).resolve().parent
LAYER_KINDS = ("conv", "fc", "attention")
PATTERN_FAMILIES = ("dense", "unstructured", "block", "channel")
ARRAYS = ("in_nnz", "out_nnz", "work")
# A pruned variant is *damaged* (no longer the model) when its outputs drift from the dense
# model's by more than half their norm: mean relative L2, ``meta.source.output_drift.mean``.
DAMAGED_DRIFT = 0.5
SHAPE_ARRAYS = ("rows", "cols", "shape")     # optional: per-sample shapes (natural sizes)

# name -> (type, required); types are checked with isinstance
META_FIELDS = {
    "version": (int, True),
    "model": (str, True),
    "pattern": (str, True),            # variant name, e.g. "dense", "block50"
    "family": (str, True),             # one of PATTERN_FAMILIES
    "level": ((int, float), True),     # target weight sparsity 0..1 (0 for dense)
    "lane_options": (list, True),
    "layers": (list, True),
    "samples": (list, True),
    "fixture": (bool, False),          # True: synthetic test fixture, not a benchmark
    "source": (dict, False),           # provenance: package, version, licence, inputs
    "notes": (str, False),
    "shape_unit": (str, False),        # unit of the ``shape`` array; required with it
}
LAYER_FIELDS = {
    "name": (str, True),
    "kind": (str, True),               # one of LAYER_KINDS
    "M": (int, True), "K": (int, True), "N": (int, True), "groups": (int, True),
    "macs": (int, True),
    "out_size": (int, True),           # output elements (what out_nnz counts)
    "weight_density": ((int, float), True),
}


class TraceError(ValueError):
    """A trace or workload file is malformed; the message names file, field and value."""


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str
    M: int
    K: int
    N: int
    groups: int
    macs: int
    out_size: int
    weight_density: float


@dataclass
class Variant:
    """One model variant's trace, validated."""

    model: str
    pattern: str
    family: str
    level: float
    lane_options: tuple[int, ...]
    layers: tuple[Layer, ...]
    samples: tuple[str, ...]
    in_nnz: np.ndarray
    out_nnz: np.ndarray
    work: np.ndarray
    rows: np.ndarray | None = None     # [S, L] per-sample M (None: every sample has M rows)
    cols: np.ndarray | None = None     # [S, L] per-sample N (None: N)
    shape: np.ndarray | None = None    # [S] input size known at arrival, in ``shape_unit``
    shape_unit: str = ""
    fixture: bool = False
    source: dict = field(default_factory=dict)
    notes: str = ""
    path: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.model}/{self.pattern}"

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    @property
    def drift(self) -> float | None:
        """Mean output drift from the dense model (``source.output_drift.mean``), if any."""
        d = self.source.get("output_drift") if isinstance(self.source, dict) else None
        return float(d["mean"]) if isinstance(d, dict) and "mean" in d else None

    @property
    def damaged(self) -> bool:
        """Pruned without fine-tuning so far that its outputs drift > :data:`DAMAGED_DRIFT`."""
        return self.drift is not None and self.drift > DAMAGED_DRIFT

    def sample_rows(self) -> np.ndarray:
        """``[S, L]`` rows each sample's layers really run (``rows``, else every ``M``)."""
        if self.rows is not None:
            return self.rows
        return np.broadcast_to(np.array([lay.M for lay in self.layers], dtype=np.int64),
                               (self.n_samples, self.n_layers))

    def sample_cols(self) -> np.ndarray:
        """``[S, L]`` output columns each sample's layers really run (``cols``, else ``N``)."""
        if self.cols is not None:
            return self.cols
        return np.broadcast_to(np.array([lay.N for lay in self.layers], dtype=np.int64),
                               (self.n_samples, self.n_layers))

    def work_at(self, lanes: int) -> np.ndarray:
        """``[S, L]`` work counts at ``lanes`` lanes (TraceError if not stored)."""
        if lanes not in self.lane_options:
            raise TraceError(f"{self.path or self.name}: no work counts for {lanes} lanes "
                             f"(field 'lane_options' = {list(self.lane_options)})")
        return self.work[:, :, self.lane_options.index(lanes)]

    def meta(self) -> dict:
        return {
            "version": TRACE_VERSION, "model": self.model, "pattern": self.pattern,
            "family": self.family, "level": self.level,
            "lane_options": list(self.lane_options),
            "layers": [vars(layer) for layer in self.layers],
            "samples": list(self.samples), "fixture": self.fixture,
            "source": self.source, "notes": self.notes,
        } | ({"shape_unit": self.shape_unit} if self.shape is not None else {})

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a file stores (optional shape arrays only when present)."""
        out = {k: np.asarray(getattr(self, k)) for k in ARRAYS}
        out.update({k: np.asarray(getattr(self, k)) for k in SHAPE_ARRAYS
                    if getattr(self, k) is not None})
        return out


def check_fields(where: str, obj, spec: dict, *, strict: bool = False):
    """Check ``obj`` against ``{name: (type, required)}``; ``strict`` also refuses unknown names.

    Shared by the trace and workload loaders; raises :class:`TraceError` naming ``where``,
    the field and the value. A bool never passes for a number.
    """
    if not isinstance(obj, dict):
        raise TraceError(f"{where}: expected an object, got {type(obj).__name__}")
    if strict:
        for name in obj:
            if name not in spec:
                raise TraceError(f"{where}: unknown field {name!r}")
    for name, (typ, required) in spec.items():
        if name not in obj:
            if required:
                raise TraceError(f"{where}: missing field {name!r}")
            continue
        v = obj[name]
        if (isinstance(v, bool) and typ is not bool) or not isinstance(v, typ):
            tn = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
            raise TraceError(f"{where}: field {name!r} must be {tn}, got {v!r}")


def _validate(path, meta: dict, arrays: dict) -> Variant:
    f = str(path)
    check_fields(f, meta, META_FIELDS)
    if meta["version"] != TRACE_VERSION:
        raise TraceError(f"{f}: field 'version' is {meta['version']!r}, "
                         f"this loader reads version {TRACE_VERSION}")
    if meta["family"] not in PATTERN_FAMILIES:
        raise TraceError(f"{f}: field 'family' has unknown value {meta['family']!r} "
                         f"(expected one of {PATTERN_FAMILIES})")
    if not 0 <= meta["level"] <= 1:
        raise TraceError(f"{f}: field 'level' must be in [0, 1], got {meta['level']!r}")
    lanes = meta["lane_options"]
    if not lanes or not all(isinstance(x, int) and x > 0 for x in lanes):
        raise TraceError(f"{f}: field 'lane_options' must be positive ints, got {lanes!r}")
    if len(set(lanes)) != len(lanes):
        raise TraceError(f"{f}: field 'lane_options' has duplicates: {lanes!r}")
    if not meta["layers"]:
        raise TraceError(f"{f}: field 'layers' is empty")
    layers = []
    for i, lay in enumerate(meta["layers"]):
        where = f"{f}: layers[{i}]"
        check_fields(where, lay, LAYER_FIELDS)
        if lay["kind"] not in LAYER_KINDS:
            raise TraceError(f"{where}: field 'kind' has unknown value {lay['kind']!r} "
                             f"(expected one of {LAYER_KINDS})")
        for k in ("M", "K", "N", "groups", "macs", "out_size"):
            if lay[k] < (0 if k == "macs" else 1):
                raise TraceError(f"{where}: field '{k}' must be positive, got {lay[k]!r}")
        if not 0 <= lay["weight_density"] <= 1:
            raise TraceError(f"{where}: field 'weight_density' must be in [0, 1], "
                             f"got {lay['weight_density']!r}")
        layers.append(Layer(**{k: lay[k] for k in LAYER_FIELDS}))
    samples = meta["samples"]
    if not samples:
        raise TraceError(f"{f}: field 'samples' is empty (no samples in trace)")
    if not all(isinstance(s, str) for s in samples) or len(set(samples)) != len(samples):
        raise TraceError(f"{f}: field 'samples' must be unique strings")
    S, L = len(samples), len(layers)
    shapes = {"in_nnz": (S, L), "out_nnz": (S, L), "work": (S, L, len(lanes))}
    out = {}
    for name in ARRAYS:
        if name not in arrays:
            raise TraceError(f"{f}: missing array '{name}'")
        a = arrays[name]
        if not np.issubdtype(a.dtype, np.integer):
            raise TraceError(f"{f}: array '{name}' must be integer, got dtype {a.dtype}")
        if a.shape != shapes[name]:
            raise TraceError(f"{f}: array '{name}' has shape {a.shape}, "
                             f"expected {shapes[name]} (samples x layers)")
        if (a.size and np.issubdtype(a.dtype, np.unsignedinteger)
                and a.max() > np.iinfo(np.int64).max):
            idx = np.unravel_index(int(np.argmax(a)), a.shape)
            raise TraceError(f"{f}: array '{name}' has value {int(a[idx])} above 2**63 - 1 "
                             f"at sample {samples[idx[0]]!r}, layer {layers[idx[1]].name!r}")
        if a.size and a.min() < 0:
            idx = np.unravel_index(int(np.argmin(a)), a.shape)
            raise TraceError(f"{f}: array '{name}' has negative value {int(a[idx])} "
                             f"at sample {samples[idx[0]]!r}, layer {layers[idx[1]].name!r}")
        out[name] = a.astype(np.int64)
    out.update(_shape_arrays(f, meta, arrays, layers, samples))
    rows = out.get("rows")
    cols = out.get("cols")
    for j, lay in enumerate(layers):
        col = out["out_nnz"][:, j]
        if rows is None and cols is None:
            if col.size and col.max() > lay.out_size:
                raise TraceError(f"{f}: array 'out_nnz' value {int(col.max())} exceeds "
                                 f"out_size {lay.out_size} of layer {lay.name!r}")
            continue
        # a sample's output size is out_size scaled by its rows and columns (exact integers)
        r = rows[:, j] if rows is not None else lay.M
        c = cols[:, j] if cols is not None else lay.N
        bad = np.flatnonzero(col * lay.M * lay.N > lay.out_size * r * c)
        if bad.size:
            s = int(bad[0])
            raise TraceError(f"{f}: array 'out_nnz' value {int(col[s])} exceeds the output "
                             f"size of sample {samples[s]!r} in layer {lay.name!r} "
                             f"(out_size {lay.out_size} x rows/M x cols/N)")
    return Variant(model=meta["model"], pattern=meta["pattern"], family=meta["family"],
                   level=float(meta["level"]),
                   lane_options=tuple(lanes), layers=tuple(layers), samples=tuple(samples),
                   fixture=meta.get("fixture", False), source=meta.get("source", {}),
                   notes=meta.get("notes", ""), shape_unit=meta.get("shape_unit", ""),
                   path=Path(path), **out)


def _shape_arrays(f: str, meta: dict, arrays: dict, layers, samples) -> dict:
    """Validate the optional per-sample shape arrays ``rows``, ``cols`` and ``shape``."""
    S, L = len(samples), len(layers)
    out = {}
    for name in SHAPE_ARRAYS:
        if name not in arrays:
            continue
        a = arrays[name]
        want = (S,) if name == "shape" else (S, L)
        if not np.issubdtype(a.dtype, np.integer):
            raise TraceError(f"{f}: array '{name}' must be integer, got dtype {a.dtype}")
        if a.shape != want:
            raise TraceError(f"{f}: array '{name}' has shape {a.shape}, expected {want}")
        if a.size and a.min() < 1:
            idx = np.unravel_index(int(np.argmin(a)), a.shape)
            raise TraceError(f"{f}: array '{name}' has value {int(a[idx])} < 1 "
                             f"at sample {samples[idx[0]]!r}")
        if name != "shape":
            top = np.array([getattr(lay, "M" if name == "rows" else "N") for lay in layers])
            over = a > top[None, :]
            if over.any():
                s, j = (int(i[0]) for i in np.nonzero(over))
                dim = "M" if name == "rows" else "N"
                raise TraceError(f"{f}: array '{name}' value {int(a[s, j])} at sample "
                                 f"{samples[s]!r} exceeds {dim} = {int(top[j])} of layer "
                                 f"{layers[j].name!r} (the layer's {dim} is the maximum)")
        out[name] = a.astype(np.int64)
    if "shape" in out and not meta.get("shape_unit"):
        raise TraceError(f"{f}: array 'shape' needs the field 'shape_unit' (e.g. 'tokens')")
    if "shape_unit" in meta and "shape" not in out:
        raise TraceError(f"{f}: field 'shape_unit' = {meta['shape_unit']!r} without "
                         f"array 'shape'")
    if ("rows" in out or "cols" in out) and "shape" not in out:
        raise TraceError(f"{f}: arrays 'rows'/'cols' need the array 'shape' (the input size "
                         f"a host knows at arrival)")
    return out


def load_variant(path) -> Variant:
    """Load and validate one variant file; raise :class:`TraceError` on any defect."""
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"{path}: no such trace file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise TraceError(f"{path}: not a readable .npz trace ({e})") from None
    if "meta" not in arrays:
        raise TraceError(f"{path}: missing array 'meta'")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TraceError(f"{path}: field 'meta' is not valid JSON ({e})") from None
    return _validate(path, meta, arrays)


def save_variant(v: Variant, path) -> Path:
    """Validate ``v`` and write it to ``path`` (directories created)."""
    path = Path(path)
    meta = v.meta()
    arrays = v.arrays()
    _validate(path, meta, arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, meta=blob, **{k: a.astype(np.int64) for k, a in arrays.items()})
    return path


def load_set(root) -> dict[tuple[str, str], Variant]:
    """Load every ``<model>/<pattern>.npz`` below ``root``: ``{(model, pattern): Variant}``."""
    root = Path(root)
    files = sorted(root.glob("*/*.npz"))
    if not files:
        raise TraceError(f"{root}: no trace files (<model>/<pattern>.npz) found")
    out = {}
    for p in files:
        v = load_variant(p)
        if (v.model, v.pattern) != (p.parent.name, p.stem):
            raise TraceError(f"{p}: fields 'model'/'pattern' = {v.model!r}/{v.pattern!r} "
                             f"do not match the file's place {p.parent.name!r}/{p.stem!r}")
        out[(v.model, v.pattern)] = v
    return out

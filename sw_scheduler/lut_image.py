"""Memory images of the scheduler's lookup tables, as the hardware loads them.

The static scheduler (:mod:`sw_scheduler.static`) fills a :class:`LutImages`; the RTL
uses ``variant``/``layer`` as ``Memory`` initial contents or writes them through its LUT
port; the bit-exact model reads the same words. On disk: ``variant.hex`` and
``layer.hex`` (``$readmemh`` style, one word per line, ``VARIANT_ENTRY``/``LAYER_ENTRY``
packed with ``as_bits``) and ``manifest.json`` (layout, formats, names, parameters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import formats as F

__all__ = ["INV_FIELDS", "LutImages"]

# what the LAYER words' ``inv_nnz`` field holds: 1 / mean output non-zeros (the mean/last
# predictors) or INV_BUSY, 1 / prefix sum of mean cycles (the busy predictor)
INV_FIELDS = ("nnz", "busy")


@dataclass
class LutImages:
    """Packed LUT words plus what is needed to interpret them.

    Attributes
    ----------
    layout : LutLayout
    variant : list[int]
        ``layout.variant_depth`` packed :data:`~sw_scheduler.formats.VARIANT_ENTRY` words.
    layer : list[int]
        ``layout.layer_depth`` packed :data:`~sw_scheduler.formats.LAYER_ENTRY` words.
    models, patterns : list[str]
        Names of model ids ``0..`` and pattern ids ``0..``.
    beta : int
        ``BETA`` code. ``kappa_cycles`` is folded into ``KINV_ISO``.
    iso_cycles : dict
        ``"model/pattern" -> mean isolated cycles`` (host side: deadlines).
    saturated : dict
        Field name -> number of values that saturated while quantising.
    inv_field : str
        What the LAYER words' ``inv_nnz`` field holds (:data:`INV_FIELDS`): ``"nnz"`` for
        the ``mean``/``last`` predictors, ``"busy"`` for the busy-cycle predictor.
    """

    layout: F.LutLayout
    variant: list[int]
    layer: list[int]
    models: list[str]
    patterns: list[str]
    beta: int
    kappa_cycles: int
    clock_hz: int = F.DEFAULT_CLOCK_HZ
    iso_cycles: dict = field(default_factory=dict)
    saturated: dict = field(default_factory=dict)
    inv_field: str = "nnz"

    def __post_init__(self):
        if self.inv_field not in INV_FIELDS:
            raise ValueError(f"inv_field must be one of {INV_FIELDS}, got {self.inv_field!r}")
        if len(self.variant) != self.layout.variant_depth:
            raise ValueError(f"variant image has {len(self.variant)} words, "
                             f"layout needs {self.layout.variant_depth}")
        if len(self.layer) != self.layout.layer_depth:
            raise ValueError(f"layer image has {len(self.layer)} words, "
                             f"layout needs {self.layout.layer_depth}")

    # -- unpacked views (what the bit-exact model and testbenches read) --
    def variant_entry(self, model: int, pattern: int) -> dict:
        w = self.variant[self.layout.variant_addr(model, pattern)]
        return _unpack(F.VARIANT_ENTRY, w)

    def layer_entry(self, model: int, pattern: int, layer: int) -> dict:
        w = self.layer[self.layout.layer_addr(model, pattern, layer)]
        return _unpack(F.LAYER_ENTRY, w)

    # -- files --
    def write(self, directory) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        vw = -(-F.VARIANT_ENTRY.size // 4)
        lw = -(-F.LAYER_ENTRY.size // 4)
        (d / "variant.hex").write_text("".join(f"{w:0{vw}x}\n" for w in self.variant))
        (d / "layer.hex").write_text("".join(f"{w:0{lw}x}\n" for w in self.layer))
        manifest = {
            "layout": self.layout.describe(),
            "variant_entry": _describe(F.VARIANT_ENTRY),
            "layer_entry": _describe(F.LAYER_ENTRY),
            "formats": {q.name: q.describe() for q in
                        (F.REM, F.INV_NNZ, F.INV_BUSY, F.BUSY_SUM, F.GAMMA,
                                      F.GAMMA_SUM, F.RECIP, F.KINV_ISO, F.BETA)},
            "inv_field": self.inv_field,
            "models": self.models, "patterns": self.patterns,
            "beta": self.beta, "kappa_cycles": self.kappa_cycles, "clock_hz": self.clock_hz,
            "iso_cycles": self.iso_cycles, "saturated": self.saturated,
            "files": {"variant": "variant.hex", "layer": "layer.hex"},
        }
        (d / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return d

    @classmethod
    def read(cls, directory) -> LutImages:
        d = Path(directory)
        m = json.loads((d / "manifest.json").read_text())
        layout = F.LutLayout(**m["layout"])

        def words(name):
            return [int(s, 16) for s in (d / m["files"][name]).read_text().split()]
        return cls(layout=layout, variant=words("variant"), layer=words("layer"),
                   models=m["models"], patterns=m["patterns"], beta=m["beta"],
                   kappa_cycles=m["kappa_cycles"], clock_hz=m["clock_hz"],
                   iso_cycles=m["iso_cycles"], saturated=m["saturated"],
                   inv_field=m.get("inv_field", "nnz"))


def _unpack(layout, word: int) -> dict:
    out = {}
    for name, fld in layout:
        w = fld.width
        out[name] = (word >> fld.offset) & ((1 << w) - 1)
    return out


def _describe(layout) -> dict:
    return {name: {"offset": fld.offset, "width": fld.width} for name, fld in layout}

"""NPU models the system harness connects to the scheduler's ``npu_cmd``/``npu_resp``.

Contract shared by every NPU kind and backend: the NPU takes a command in the cycle the
scheduler presents it (``npu_cmd.ready`` = 1 while idle); a command accepted in cycle
``c`` for layer ``l`` of request ``tag`` is answered by ``npu_resp.valid`` from cycle
``c + latency`` on (the scheduler takes it at once, ``ready`` = 1 in RUN), carrying the
layer's output non-zero count. An NPU is a callable ``npu(tag, layer) -> (latency, nnz)``.

* :class:`TraceNPU` -- ``latency`` = the trace's cycles of that layer for the request's
  sample, ``nnz`` = its ``out_nnz`` (the benchmark NPU).
* :class:`DatapathNPU` -- runs the layer's real int8 tensors on the sparse datapath RTL
  (:class:`rtl.accelerator.engine.SparseEngine`, Amaranth simulator); ``latency`` = the
  RTL's cycles from its ``cmd`` transfer to its ``resp`` transfer (inclusive count, i.e.
  :func:`rtl.accelerator.cycle_model.layer_cycles`), ``nnz`` = its response. Operand
  loading is assumed done beforehand by a DMA into a second buffer set (not timed).
  :func:`tensor_case` builds a tiny workload whose trace is *defined* by its tensors'
  work counts, so that both kinds must agree exactly.
"""

from __future__ import annotations

import numpy as np

from rtl.accelerator.cycle_model import mask_cycles
from rtl.accelerator.engine import SparseEngine
from rtl.accelerator.harness import simulate
from rtl.accelerator.reference import LayerData, layer_reference
from sw_scheduler import formats as F
from sw_scheduler.records import Request
from sw_scheduler.static import StaticTables, VariantStats

__all__ = ["DatapathNPU", "TraceNPU", "tensor_case"]


class TraceNPU:
    """Trace-driven NPU over :class:`sw_scheduler.records.Request` objects (``tag, cycles,
    out_nnz``)."""

    kind = "trace"

    def __init__(self, requests):
        self.plan = {r.tag: (tuple(r.cycles), tuple(r.out_nnz)) for r in requests}
        for tag, (cyc, nnz) in self.plan.items():
            if len(cyc) != len(nnz) or not cyc:
                raise ValueError(f"request {tag}: cycles/out_nnz lengths {len(cyc)}/"
                                 f"{len(nnz)} differ or are 0")
            bad = [c for c in cyc if c < 1]
            if bad:
                raise ValueError(f"request {tag}: field 'cycles' has a value {bad[0]!r} < 1")
            badn = [v for v in nnz if not 0 <= v <= F.NNZ.max_int]
            if badn:
                raise ValueError(f"request {tag}: field 'out_nnz' value {badn[0]!r} does not "
                                 f"fit the {F.NNZ.width}-bit NNZ field")

    def __call__(self, tag: int, layer: int) -> tuple[int, int]:
        try:
            cyc, nnz = self.plan[tag]
            return int(cyc[layer]), int(nnz[layer])
        except (KeyError, IndexError):
            raise ValueError(f"NPU command for request {tag}, layer {layer}: no such request "
                             "or layer in the trace") from None

    def rows(self):
        """``(tag, [(latency, nnz), ...])`` for every request (the compiled harness's plan)."""
        return [(t, list(zip(c, n))) for t, (c, n) in sorted(self.plan.items())]


class DatapathNPU:
    """NPU running real tensors on the datapath RTL.

    Parameters
    ----------
    layers : dict
        ``tag -> list[rtl.accelerator.reference.LayerData]`` (one per layer).
    lanes : int
        Engine lanes ``P``.
    engine : dict
        Further :class:`SparseEngine` parameters (``max_k``, buffer depths).
    """

    kind = "datapath"

    def __init__(self, layers: dict, *, lanes: int = 16, engine: dict | None = None):
        self.layers = layers
        self.lanes = lanes
        self.engine_kw = dict(engine or {})
        self.runs: dict = {}            # (tag, layer) -> LayerRun

    def __call__(self, tag: int, layer: int) -> tuple[int, int]:
        key = (tag, layer)
        if key not in self.runs:
            try:
                data = self.layers[tag][layer]
            except (KeyError, IndexError):
                raise ValueError(f"NPU command for request {tag}, layer {layer}: no tensors "
                                 "for it") from None
            eng = SparseEngine(lanes=self.lanes, **self.engine_kw)
            self.runs[key] = simulate(eng, [data])[0]
        run = self.runs[key]
        return run.cycles, run.nnz


def tensor_case(*, n_requests: int = 6, n_models: int = 2, n_layers: int = 3, lanes: int = 8,
                seed: int = 0, gap: int = 60):
    """A tiny workload with real tensors, its trace defined by the tensors' work counts.

    Returns ``(requests, layers, tables)``: :class:`sim.workload.Request` objects whose
    ``cycles``/``out_nnz`` come from :func:`~rtl.accelerator.cycle_model.mask_cycles` and the
    numpy reference of each request's own tensors, ``layers`` (``tag -> [LayerData]``) for
    :class:`DatapathNPU`, and :class:`StaticTables` whose statistics are the means over
    the requests of each model (one pattern ``"p0"``; ``kappa`` = 10 us, scaled to the
    tiny requests).
    """
    rng = np.random.default_rng([seed, 0xF00D])
    shapes = {m: [(int(rng.integers(2, 4)), int(rng.integers(4, 12)),
                   int(rng.integers(lanes // 2, 2 * lanes))) for _ in range(n_layers)]
              for m in range(n_models)}
    weights = {m: [rng.integers(-3, 4, size=(k, n)) * (rng.random((k, n)) < 0.6)
                   for (_, k, n) in shapes[m]] for m in range(n_models)}
    reqs, layers, per_model = [], {}, {m: [] for m in range(n_models)}
    t = 0
    for tag in range(n_requests):
        m = int(rng.integers(n_models))
        lds, cyc, nnz = [], [], []
        for (mm, k, n), w in zip(shapes[m], weights[m]):
            x = rng.integers(-4, 5, size=(mm, k)) * (rng.random((mm, k)) < 0.5)
            ld = LayerData(x, w, shift=1)
            lds.append(ld)
            cyc.append(mask_cycles(x != 0, w != 0, lanes))
            nnz.append(int(np.count_nonzero(layer_reference(ld))))
        layers[tag] = lds
        per_model[m].append((cyc, nnz))
        t += int(rng.integers(1, gap))
        reqs.append((tag, m, t, cyc, nnz))
    stats = {}
    for m, rows in per_model.items():
        if not rows:
            rows = [([1] * n_layers, [0] * n_layers)]
        cyc = np.array([r[0] for r in rows], dtype=float)
        mc = cyc.mean(axis=0)
        stats[(f"m{m}", "p0")] = VariantStats(
            model=f"m{m}", pattern="p0", mean_cycles=mc,
            rem=np.concatenate([np.cumsum(mc[::-1])[::-1], [0.0]]),
            mean_nnz=np.array([r[1] for r in rows], dtype=float).mean(axis=0),
            iso=float(cyc.sum(axis=1).mean()), n_profile=len(rows))
    # kappa scaled to these ~100-cycle requests (one second of cycles would saturate KINV_ISO)
    tables = StaticTables(models=[f"m{m}" for m in range(n_models)], patterns=["p0"],
                          stats=stats, kappa_s=1e-5)
    out = []
    for tag, m, arr, cyc, nnz in reqs:
        out.append(Request(tag=tag, model=f"m{m}", pattern="p0", model_id=m, pattern_id=0,
                           sample=f"s{tag}", arrival=arr,
                           deadline=tables.deadline(f"m{m}", "p0", arr, 4.0),
                           priority=F.PRIORITY_LEVELS[tag % len(F.PRIORITY_LEVELS)],
                           cycles=tuple(cyc), out_nnz=tuple(nnz)))
    return out, layers, tables

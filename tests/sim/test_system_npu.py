"""NPU kinds: the real datapath RTL and the trace-driven NPU agree on a tiny case whose
trace is defined by its tensors' work counts."""

from sim.npu import DatapathNPU, TraceNPU, tensor_case
from sim.system import run_system


def test_trace_npu_equals_datapath_npu():
    reqs, layers, tables = tensor_case(n_requests=5, n_layers=2, seed=7, gap=40)
    images = tables.to_lut_images()
    real = DatapathNPU(layers, lanes=8)
    a = run_system(reqs, images, TraceNPU(reqs), backend="pysim", num_slots=4)
    b = run_system(reqs, images, real, backend="pysim", num_slots=4)
    assert len(real.runs) == sum(len(v) for v in layers.values())
    for (tag, layer), run in real.runs.items():
        r = next(q for q in reqs if q.tag == tag)
        assert (run.cycles, run.nnz) == (r.cycles[layer], r.out_nnz[layer])
    assert a.decisions == b.decisions
    assert a.completions == b.completions
    assert a.accepts == b.accepts

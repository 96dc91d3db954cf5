"""The committed fixture traces: reproducible from the generator, labelled, consistent
with the datapath cycle model, input-dependent sparsity."""

import numpy as np

from rtl.accelerator.cycle_model import layer_cycles, variant_cycles
from sw_scheduler.formats import DEFAULT_LANES
from traces.fixtures.generate import MODELS, generate
from traces.format import TRACE_ROOT, load_set

FIX = TRACE_ROOT / "fixtures"


def test_committed_fixtures_match_generator(tmp_path):
    generate(tmp_path)
    ours, fresh = load_set(FIX), load_set(tmp_path)
    assert set(ours) == set(fresh) == {(m, p) for m, s in MODELS.items() for p in s["patterns"]}
    for k, v in ours.items():
        w = fresh[k]
        assert v.meta() | {"source": None} == w.meta() | {"source": None}
        for a in ("in_nnz", "out_nnz", "work", "empty", "products"):
            assert np.array_equal(getattr(v, a), getattr(w, a)), (k, a)


def test_fixtures_labelled_and_cycle_model_consistent():
    for (m, p), v in load_set(FIX).items():
        assert v.fixture is True and "FIXTURE" in v.notes
        assert 4 <= v.n_layers <= 12 and v.n_samples == 40
        cyc = variant_cycles(v, DEFAULT_LANES)
        o = v.lane_options.index(DEFAULT_LANES)
        for j in range(v.n_layers):
            for s in range(0, v.n_samples, 7):
                assert cyc[s, j] == layer_cycles(work=int(v.work[s, j, o]),
                                                 empty=int(v.empty[s, j, o]))
        # input-dependent: output density of layer 0 predicts the later layers' cycles
        x = v.out_nnz[:, 0]
        y = cyc[:, 1:].sum(axis=1)
        assert np.corrcoef(x, y)[0, 1] > 0.5, (m, p)

"""Re-extracting a committed real-model trace reproduces its numbers exactly.

The OCR text-direction classifier (``ocr_cls``, 585 kB ONNX inside rapidocr-onnxruntime) is
re-run on the first samples of its committed traces (Zen of Python lines rendered with
matplotlib's fonts), dense and pruned, and every stored array must match bit for bit.
"""

import numpy as np
import pytest

from traces.extract import common, onnx_models
from traces.format import load_variant

N = 6
PATTERNS = ("dense", "block75", "channel50", "unstructured50")


@pytest.fixture(scope="module")
def inputs():
    return onnx_models.samples("ocr_cls", N)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_ocr_cls_reextract_matches_committed(pattern, inputs):
    v = load_variant(common.DATA_ROOT / "ocr_cls" / f"{pattern}.npz")
    ids = [sid for sid, _ in inputs]
    assert ids == list(v.samples[:N])
    recs, _ = onnx_models.extract("ocr_cls", pattern, inputs=inputs)
    names = [lay.name for lay in v.layers]
    for s, sid in enumerate(ids):
        got = recs[sid]
        assert [r["name"] for r in got] == names
        for j, (r, lay) in enumerate(zip(got, v.layers)):
            for k in ("M", "K", "N", "groups", "macs", "out_size"):
                assert r[k] == getattr(lay, k), (sid, lay.name, k)
            assert r["weight_density"] == pytest.approx(lay.weight_density, abs=0), lay.name
        for field in ("in_nnz", "out_nnz"):
            np.testing.assert_array_equal([r[field] for r in got], getattr(v, field)[s],
                                          err_msg=f"{pattern} {sid} {field}")
        np.testing.assert_array_equal([r["work"] for r in got], v.work[s],
                                      err_msg=f"{pattern} {sid} work")


def test_ocr_cls_pruning_changes_sparsity(inputs):
    """The pruned variant really differs (guards against the test comparing dense to dense)."""
    dense = load_variant(common.DATA_ROOT / "ocr_cls" / "dense.npz")
    pruned = load_variant(common.DATA_ROOT / "ocr_cls" / "block75.npz")
    assert pruned.work[:N].sum() < dense.work[:N].sum()
    assert min(lay.weight_density for lay in pruned.layers) < 0.3


# ---- the recogniser at natural text-line widths (per-sample shapes) ---------------------

N_REC = 4


@pytest.fixture(scope="module")
def rec_inputs():
    return onnx_models.samples("ocr_rec_natural", N_REC)


def test_ocr_rec_natural_reextract_matches_committed(rec_inputs):
    """The first samples (lines of different widths) re-run under onnxruntime give the committed
    per-sample rows, columns, input widths, non-zeros and work counts exactly."""
    v = load_variant(common.DATA_ROOT / "ocr_rec_natural" / "dense.npz")
    ids = [sid for sid, _ in rec_inputs]
    if ids != list(v.samples[:N_REC]):
        pytest.skip("this Python's pydoc_data.topics text differs from the one the trace "
                    f"was extracted from: sample ids {ids} vs {list(v.samples[:N_REC])}")
    widths = onnx_models.natural_shapes("ocr_rec_natural", rec_inputs)
    assert [widths[s] for s in ids] == v.shape[:N_REC].tolist()
    assert len(set(widths.values())) > 1                   # really different sizes
    recs, _ = onnx_models.extract("ocr_rec_natural", "dense", inputs=rec_inputs)
    assert [r["name"] for r in recs[ids[0]]] == [lay.name for lay in v.layers]
    for s, sid in enumerate(ids):
        got = recs[sid]
        np.testing.assert_array_equal([r["M"] for r in got], v.rows[s], err_msg=f"{sid} rows")
        np.testing.assert_array_equal([r["N"] for r in got], v.sample_cols()[s],
                                      err_msg=f"{sid} cols")
        for field in ("in_nnz", "out_nnz"):
            np.testing.assert_array_equal([r[field] for r in got], getattr(v, field)[s],
                                          err_msg=f"{sid} {field}")
        np.testing.assert_array_equal([r["work"] for r in got], v.work[s],
                                      err_msg=f"{sid} work")

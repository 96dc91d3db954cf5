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
        for field in ("in_nnz", "out_nnz", "products", "work", "empty"):
            np.testing.assert_array_equal([r[field] for r in got], getattr(v, field)[s],
                                          err_msg=f"{pattern} {sid} {field}")


def test_ocr_cls_pruning_changes_sparsity(inputs):
    """The pruned variant really differs (guards against the test comparing dense to dense)."""
    dense = load_variant(common.DATA_ROOT / "ocr_cls" / "dense.npz")
    pruned = load_variant(common.DATA_ROOT / "ocr_cls" / "block75.npz")
    assert pruned.work[:N].sum() < dense.work[:N].sum()
    assert min(lay.weight_density for lay in pruned.layers) < 0.3

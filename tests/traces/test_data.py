"""Committed real traces: loader, cycle consistency, work-count invariants; extraction helpers.

The helpers of :mod:`traces.extract.common` are checked against direct computations
(a loop convolution, :func:`rtl.accelerator.cycle_model.work_count` on full im2col masks).
"""

from pathlib import Path

import numpy as np
import pytest

from rtl.accelerator.cycle_model import layer_cycles, variant_cycles
from sw_scheduler.formats import DEFAULT_LANES
from traces.extract import common
from traces.format import PATTERN_FAMILIES, TRACE_ROOT, load_set
from traces.work import LANE_OPTIONS, passes, work_count

DATA = TRACE_ROOT / "data"
SOURCES = TRACE_ROOT / "SOURCES.md"
MEDIAPIPE_MODELS = ("hand_landmark_lite", "hand_landmark_full", "palm_detection_lite",
                    "face_detection_short_range", "face_landmark", "iris_landmark",
                    "pose_landmark_full")


@pytest.fixture(scope="module")
def traces():
    return load_set(DATA)


def test_loader_accepts_every_committed_trace(traces):
    files = sorted(DATA.glob("*/*.npz"))
    assert len(traces) == len(files) > 0
    for name in MEDIAPIPE_MODELS:
        pats = {p for (m, p) in traces if m == name}
        assert pats == set(common.DEFAULT_PATTERNS), f"{name}: patterns {sorted(pats)}"


def test_committed_traces_are_real_and_documented(traces):
    text = SOURCES.read_text()
    for (m, p), v in traces.items():
        assert not v.fixture, f"{m}/{p} is a fixture"
        for key in ("package", "version", "licence"):
            assert v.source.get(key), f"{m}/{p}: source field {key!r} missing"
        assert f"`{m}`" in text, f"{m} is not described in {SOURCES}"
        assert v.n_samples >= 50, f"{m}/{p}: only {v.n_samples} samples"
        assert (v.family, v.level) == common.PATTERNS.get(p, (v.family, v.level))
        assert v.family in PATTERN_FAMILIES


def test_cycles_follow_from_stored_work_at_every_lane_option(traces):
    """Traces store work counts for every lane option; the vectorised variant_cycles equals
    layer_cycles sample by sample, at each sample's own rows and columns."""
    for v in traces.values():
        assert tuple(v.lane_options) == tuple(LANE_OPTIONS)
        rows, cols = v.sample_rows(), v.sample_cols()
        for lanes in LANE_OPTIONS:
            cyc = variant_cycles(v, lanes)
            i = v.lane_options.index(lanes)
            for s in (0, v.n_samples - 1):
                for j, lay in enumerate(v.layers):
                    assert cyc[s, j] == layer_cycles(M=int(rows[s, j]), N=int(cols[s, j]),
                                                     groups=lay.groups, lanes=lanes,
                                                     work=int(v.work[s, j, i]))


# ---- input-dependent workloads: natural sizes, int8 zeros, the native sparse model -------

NATURAL = {"minilm_l6_natural": "tokens", "ocr_rec_natural": "width_px",
           "ocr_det_natural": "pixels"}


def _cv(v) -> float:
    e2e = variant_cycles(v, DEFAULT_LANES).sum(axis=1)
    return float(e2e.std() / e2e.mean())


def test_natural_size_variants_vary_by_at_least_20_percent(traces):
    """The point of the natural-size traces: end-to-end cycles depend strongly on the input
    (the padded / fixed-size models vary by ~0-1.3 %)."""
    for m in NATURAL:
        assert _cv(traces[(m, "dense")]) >= 0.20, f"{m}/dense: CV {_cv(traces[(m, 'dense')])}"
    assert _cv(traces[("minilm_l6", "dense")]) < 0.05      # the padded model does not


def test_natural_size_shapes_are_stored_and_consistent(traces):
    for (m, p), v in traces.items():
        if m not in NATURAL:
            assert v.rows is None and v.shape is None, f"{m}/{p}: unexpected shape arrays"
            continue
        assert v.shape_unit == NATURAL[m] and v.shape is not None and v.rows is not None
        assert len(set(v.shape.tolist())) >= 5, f"{m}/{p}: input sizes barely differ"
        # a larger input never has fewer rows in any layer, and some sample fills every layer
        order = np.argsort(v.shape, kind="stable")
        assert (np.diff(v.rows[order], axis=0) >= 0).all(), f"{m}/{p}: rows not monotone"
        assert (v.rows.max(axis=0) == [lay.M for lay in v.layers]).all()
        if m == "minilm_l6_natural":        # one row per token in every layer
            assert (v.rows == v.shape[:, None]).all()
            qk = [j for j, lay in enumerate(v.layers) if lay.name.endswith("attention.qk")]
            assert len(qk) == 6 and (v.cols[:, qk] == v.shape[:, None]).all()


def test_int8_zero_variants_only_add_zeros(traces):
    """Zeros of int8 codes include the exact zeros: never more non-zeros or work than the
    exact-zero variant of the same weights on the same inputs, and fewer overall."""
    pairs = [(k, (k[0], k[1].removesuffix("_int8"))) for k in traces if k[1].endswith("_int8")]
    # every model as shipped has its int8-zero twin
    assert {m for (m, _), _ in pairs} == {m for m, p in traces if p in ("dense", "native")}
    for k8, k in pairs:
        a, b = traces[k8], traces[k]
        assert a.samples == b.samples and [x.name for x in a.layers] == [x.name for x in b.layers]
        assert (a.in_nnz <= b.in_nnz).all() and (a.out_nnz <= b.out_nnz).all(), k8
        assert (a.work <= b.work).all(), k8
        assert a.in_nnz.sum() < b.in_nnz.sum(), f"{k8}: int8 adds no zeros at all"
        assert "int8" in a.source and "int8" not in b.source


def test_native_sparse_face_detector(traces):
    v = traces[("face_detection_full_range", "native")]
    assert (v.family, v.level) == ("unstructured", 0.7) and "native_sparsity" in v.source
    assert "output_drift" not in v.source           # shipped weights: nothing to drift from
    w = np.array([lay.weight_density for lay in v.layers])
    size = np.array([lay.groups * lay.K * lay.N for lay in v.layers])
    assert 0.3 <= (w * size).sum() / size.sum() <= 0.4    # 0.352 of the weights non-zero
    assert np.isclose(w, 0.3, atol=0.01).sum() >= 40      # the pruned pointwise convs


def test_work_counts_are_consistent(traces):
    for (m, p), v in traces.items():
        n = np.array([lay.N for lay in v.layers])
        for i, lanes in enumerate(v.lane_options):
            npass = np.array([passes(int(x), lanes) for x in n])
            assert (v.work[:, :, i] <= v.in_nnz * npass).all(), f"{m}/{p} lanes {lanes}"
        # more lanes per pass never adds broadcasts
        assert (np.diff(v.work, axis=2) <= 0).all(), f"{m}/{p}: work grows with lanes"
        for j, lay in enumerate(v.layers):
            assert (v.in_nnz[:, j] <= lay.M * lay.K * lay.groups).all()
            assert lay.macs == lay.M * lay.K * lay.N * lay.groups


def test_pruned_variants_match_dense_shapes_and_levels(traces):
    models = {m for m, _ in traces}
    for m in models:
        if (m, "dense") not in traces:
            continue
        dense = traces[(m, "dense")]
        for p, (family, level) in common.PATTERNS.items():
            v = traces.get((m, p))
            if v is None:
                continue
            assert v.samples == dense.samples, f"{m}/{p}: different samples"
            # all-zero output columns are compacted away: only N may shrink
            assert [(a.M, a.K, a.groups) for a in v.layers] == \
                   [(a.M, a.K, a.groups) for a in dense.layers]
            n, n0 = (np.array([a.N for a in x.layers]) for x in (v, dense))
            assert (n <= n0).all() and (n >= 1).all(), f"{m}/{p}: columns grew"
            if family == "channel":     # ungrouped layers lose their pruned filters
                one = np.array([a.groups == 1 for a in v.layers])
                # exactly 1 - level of the original columns survive; the dense N already
                # lacks the shipped dead filters (hand landmark: up to 1/3 of a layer)
                assert n[one].sum() <= (1 - level + 0.15) * n0[one].sum(), \
                    f"{m}/{p}: pruned columns kept"
            # non-zero weights per layer (weight_density is over the compacted [g, K, N])
            nnz, nnz0 = (np.array([a.weight_density * a.groups * a.K * a.N for a in x.layers])
                         for x in (v, dense))
            assert (nnz <= nnz0 + 1e-6).all() and nnz.sum() <= nnz0.sum() + 1e-6, f"{m}/{p}"
            if family != "dense":
                # the dense N is already compacted (shipped dead filters), the pruning counted
                # units of the original shape: only a loose bound on the surviving fraction
                assert nnz.sum() <= (1 - level / 3) * nnz0.sum(), f"{m}/{p}: not pruned"
                assert (nnz > 0).all(), f"{m}/{p}: a layer lost all its weights"
                assert (variant_cycles(v, DEFAULT_LANES).sum(axis=1).mean()
                        < variant_cycles(dense, DEFAULT_LANES).sum(axis=1).mean())
        # activation sparsity differs between inputs: the point of the benchmark
        assert variant_cycles(dense, DEFAULT_LANES).sum(axis=1).std() > 0, \
            f"{m}: no input dependence at all"


# ---- extraction helpers ------------------------------------------------------------------

def _conv_ref(x, w_ohwi, stride, pad, dil, groups):
    xp = np.pad(x, ((pad[0], pad[2]), (pad[1], pad[3]), (0, 0)))
    o, kh, kw, cin = w_ohwi.shape
    ho = (xp.shape[0] - (kh - 1) * dil - 1) // stride + 1
    wo = (xp.shape[1] - (kw - 1) * dil - 1) // stride + 1
    out = np.zeros((ho, wo, o))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(kh):
            for j in range(kw):
                patch = xp[i * dil:i * dil + stride * (ho - 1) + 1:stride,
                           j * dil:j * dil + stride * (wo - 1) + 1:stride,
                           g * cin:(g + 1) * cin]
                out[:, :, oc] += patch @ w_ohwi[oc, i, j]
    return out


@pytest.mark.parametrize("groups,c,o,stride,pad,dil", [
    (1, 3, 5, 1, (1, 0, 1, 1), 1), (2, 4, 6, 2, (0, 1, 1, 0), 2), (4, 4, 8, 1, (1, 1, 1, 1), 1),
])
def test_gemm_view_and_im2col_compute_the_convolution(groups, c, o, stride, pad, dil):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 6, c))
    w = rng.normal(size=(o, 3, 2, c // groups))
    ref = _conv_ref(x, w, stride, pad, dil, groups)
    cols = common.im2col(x, 3, 2, stride, pad, dil, groups)
    for layout, ww in (("OHWI", w), ("OIHW", w.transpose(0, 3, 1, 2))):
        g = common.gemm_weight(ww, "conv", layout, groups)
        got = np.einsum("gmk,gkn->mgn", cols, g).reshape(ref.shape)
        np.testing.assert_allclose(got, ref, atol=1e-9)
        assert np.array_equal(common.gemm_to_layout(g, layout, ww.shape), ww)


def test_depthwise_and_fc_layouts():
    rng = np.random.default_rng(2)
    c, mult = 4, 2
    w = rng.normal(size=(1, 3, 3, c * mult))
    x = rng.normal(size=(5, 5, c))
    ref = _conv_ref(x, w[0].transpose(2, 0, 1)[..., None], 1, (1, 1, 1, 1), 1, c)
    g = common.gemm_weight(w, "conv", "1HWO", c)
    cols = common.im2col(x, 3, 3, 1, (1, 1, 1, 1), 1, c)
    np.testing.assert_allclose(np.einsum("gmk,gkn->mgn", cols, g).reshape(ref.shape), ref,
                               atol=1e-9)
    assert np.array_equal(common.gemm_to_layout(g, "1HWO", w.shape), w)
    fc = rng.normal(size=(5, 7))
    assert np.array_equal(common.gemm_weight(fc, "fc", "NK")[0], fc.T)
    assert np.array_equal(common.gemm_to_layout(common.gemm_weight(fc, "fc", "NK"), "NK",
                                                fc.shape), fc)
    with pytest.raises(ValueError, match="layout"):
        common.gemm_weight(fc, "fc", "XY")


def test_colcount_and_work_match_full_masks():
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 10, 2))
        g = int(rng.integers(1, 3))
        c = g * int(rng.integers(1, 4))
        kh, kw = (int(v) for v in rng.integers(1, 6, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        pad = tuple(int(v) for v in rng.integers(0, 4, 4))
        x = rng.random((h, w, c)) > 0.4
        try:
            mask = common.im2col_mask(x, kh, kw, s, pad, d, g)
        except ValueError:
            continue
        m, cnt = common.im2col_colcount(x, kh, kw, s, pad, d, g)
        assert m == mask.shape[1] and np.array_equal(cnt, mask.sum(axis=1))
        wn = rng.random((g, mask.shape[2], int(rng.integers(1, 40)))) > 0.6
        rec = common.layer_record("l", "conv", None, wn, np.zeros(g * wn.shape[2]),
                                  out_axis=-1, colcount=(m, cnt))
        wc = wn[:, :, wn.any(axis=(0, 1))]                   # the compacted weights
        assert rec["work"] == [work_count(mask, wc, lanes) for lanes in LANE_OPTIONS]
        assert rec["N"] == wc.shape[2]
        assert rec["in_nnz"] == mask.sum()
        checked += 1
    assert checked > 80


def test_layer_record_compacts_pruned_output_columns():
    rng = np.random.default_rng(6)
    x = rng.random((1, 10, 12)) > 0.5                          # [groups, M, K]
    w = rng.random((1, 12, 20)) > 0.3
    w[:, :, [1, 4, 5, 19]] = False                             # four pruned filters
    out = rng.random((2, 5, 20)) * (rng.random((2, 5, 20)) > 0.4)      # NHWC, M = 10
    keep = np.ones(20, dtype=bool)
    keep[[1, 4, 5, 19]] = False
    rec = common.layer_record("c", "conv", x, w, out, out_axis=-1)
    assert (rec["N"], rec["K"], rec["macs"]) == (16, 12, 10 * 12 * 16)
    assert rec["out_size"] == 10 * 16
    assert rec["out_nnz"] == np.count_nonzero(out[..., keep])
    assert rec["weight_density"] == w[:, :, keep].mean()
    assert rec["work"] == [work_count(x, w[:, :, keep], lanes) for lanes in LANE_OPTIONS]
    assert "cycles" not in rec                      # traces store facts, not cycles
    nchw = common.layer_record("c", "conv", x, w, out.transpose(2, 0, 1)[None], out_axis=1)
    assert {k: nchw[k] for k in rec} == rec
    with pytest.raises(ValueError, match="out_axis"):
        common.layer_record("c", "conv", x, w, out)
    # grouped: a column survives if any group uses it; N = 1 depthwise never shrinks
    wg = rng.random((3, 12, 4)) > 0.3
    wg[:, :, 2] = False
    wg[0, :, 0] = False
    xg = rng.random((3, 10, 12)) > 0.5
    og = rng.random((10, 12)) + 1                              # channel g * 4 + n
    rec = common.layer_record("g", "conv", xg, wg, og, out_axis=-1)
    assert (rec["N"], rec["out_size"]) == (3, 10 * 9)
    # several columns per output channel (ConvTranspose: kh * kw taps): dropped only if all are
    wt = rng.random((1, 12, 8)) > 0.2
    wt[:, :, [0, 1, 3]] = False                                # channel 0 gone, channel 1 not
    rec = common.layer_record("t", "conv", x, wt, np.ones((1, 4, 3, 3)), out_axis=1)
    assert (rec["N"], rec["out_size"]) == (5, 3 * 9)


@pytest.mark.parametrize("family", ["unstructured", "block", "channel"])
@pytest.mark.parametrize("level", [0.5, 0.75])
def test_prune_families(family, level):
    rng = np.random.default_rng(4)
    w = rng.normal(size=(2, 24, 40))
    p = common.prune(w, family, level)
    kept = p != 0
    assert abs(1 - kept.mean() - level) < 0.03
    assert np.array_equal(p[kept], w[kept])                  # survivors are untouched
    assert np.abs(p).sum() > np.abs(w).sum() * (1 - level)   # the largest ones survive
    if family == "block":
        blocks = kept.reshape(2, 24, 5, common.BLOCK)
        assert np.array_equal(blocks.any(axis=3), blocks.all(axis=3))
    if family == "channel":
        assert np.array_equal(kept.any(axis=1), kept.all(axis=1))
    assert np.array_equal(common.prune(w, "dense", 0), w)


def test_write_variant_roundtrip(tmp_path: Path):
    rng = np.random.default_rng(5)
    recs = {}
    for s in range(3):
        x = rng.random((6, 6, 4)) > 0.5
        wn = rng.random((1, 36, 6)) > 0.3
        cc = common.im2col_colcount(x, 3, 3, 1, (1, 1, 1, 1))
        recs[f"s{s}"] = [common.layer_record("c", "conv", None, wn, rng.random((6, 6, 6)) > 0.5,
                                             colcount=cc)]
    path = common.write_variant("m", "block50", "block", 0.5, None, recs,
                                {"package": "x"}, root=tmp_path)
    v = load_set(tmp_path)[("m", "block50")]
    assert path.is_file() and v.samples == ("s0", "s1", "s2")
    assert [list(w) for w in v.work[:, 0]] == [r[0]["work"] for r in recs.values()]
    bad = dict(recs, s3=[dict(recs["s0"][0], M=7)])
    with pytest.raises(ValueError, match="field 'M'"):
        common.write_variant("m", "dense", "dense", 0, None, bad, {}, root=tmp_path)


def test_shipped_scenarios_label_damaged_variants_by_drift():
    """``damaged`` in every shipped scenario is exactly its patterns with drift > 0.5."""
    import tomllib

    from traces.format import DAMAGED_DRIFT, load_variant

    files = sorted((TRACE_ROOT / "workloads").glob("*.toml"))
    assert {f.stem for f in files} >= {"arvr", "mobile", "datacenter", "assistant"}
    labelled = 0
    for f in files:
        for m in tomllib.loads(f.read_text())["models"]:
            drift = {p: load_variant(DATA / m["name"] / f"{p}.npz").drift for p in m["patterns"]}
            want = [p for p, d in drift.items() if d is not None and d > DAMAGED_DRIFT]
            assert m.get("damaged") == want, f"{f.name}: {m['name']}: {drift}"
            labelled += len(want)
    assert labelled > 10

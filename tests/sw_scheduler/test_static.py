"""Static tables: statistics by hand, LUT quantisation round trip, saturation, files."""

import numpy as np
import pytest

from sw_scheduler import formats as F
from sw_scheduler.lut_image import LutImages
from sw_scheduler.static import StaticTables, VariantStats, variant_stats
from traces.format import Layer, Variant


def _variant(cycles, out_nnz, model="m", pattern="dense"):
    cycles = np.asarray(cycles, np.int64)
    S, L = cycles.shape
    layers = tuple(Layer(name=f"l{j}", kind="fc", M=1, K=4, N=1000, groups=1, macs=4000,
                         out_size=1000, weight_density=1.0) for j in range(L))
    return Variant(model=model, pattern=pattern, family="dense", level=0.0,
                   lane_options=(16,), layers=layers,
                   samples=tuple(f"s{i}" for i in range(S)),
                   in_nnz=np.zeros((S, L), np.int64), out_nnz=np.asarray(out_nnz, np.int64),
                   work=np.zeros((S, L, 1), np.int64), empty=np.zeros((S, L, 1), np.int64),
                   products=np.zeros((S, L), np.int64)), cycles


def test_stats_by_hand():
    v, cyc = _variant([[10, 20, 30], [30, 40, 50], [1000, 1000, 1000]],
                      [[4, 0, 8], [6, 0, 2], [100, 100, 100]])
    st = variant_stats(v, cyc, [0, 1])            # sample 2 is held out: ignored
    assert st.mean_cycles.tolist() == [20, 30, 40]
    assert st.rem.tolist() == [90, 70, 40, 0]
    assert st.mean_nnz.tolist() == [5, 0, 5]
    assert st.inv_nnz.tolist() == [0.2, 0.0, 0.2]  # mean 0 -> 0 ("no info")
    assert st.iso == 90
    with pytest.raises(ValueError, match="no profiling samples"):
        variant_stats(v, cyc, [])


def _tables(stats, **kw):
    models = list(dict.fromkeys(m for m, _ in stats))
    patterns = list(dict.fromkeys(p for _, p in stats))
    return StaticTables(models=models, patterns=patterns, stats=stats, **kw)


def _st(model, pattern, cycles, nnz):
    c = np.asarray(cycles, float)
    return VariantStats(model=model, pattern=pattern, mean_cycles=c,
                        rem=np.concatenate([np.cumsum(c[::-1])[::-1], [0.0]]),
                        mean_nnz=np.asarray(nnz, float), iso=float(c.sum()), n_profile=3)


def test_lut_round_trip(tmp_path):
    t = _tables({("a", "dense"): _st("a", "dense", [100.4, 2000.0, 3000.0], [3.0, 0.0, 7.5]),
                 ("a", "block50"): _st("a", "block50", [5000.0, 6000.0], [2.0, 4.0]),
                 ("b", "dense"): _st("b", "dense", [1e5], [1000.0])})
    img = t.to_lut_images()
    assert img.layout == F.LutLayout.fitting(2, 2, 3)
    assert img.models == ["a", "b"] and img.patterns == ["dense", "block50"]
    for (m, p), st in t.stats.items():
        mi, pi = t.model_id(m), t.pattern_id(p)
        ve = img.variant_entry(mi, pi)
        assert ve["n_layers"] == st.n_layers
        assert F.KINV_ISO.to_float(ve["kinv_iso"]) == pytest.approx(
            t.kappa_cycles / st.iso, abs=2 ** -F.KINV_ISO.frac)
        for j in range(st.n_layers + 1):
            le = img.layer_entry(mi, pi, j)
            assert le["rem"] == round(st.rem[j])
            want = st.inv_nnz[j] if j < st.n_layers else 0.0
            assert F.INV_NNZ.to_float(le["inv_nnz"]) == pytest.approx(
                want, abs=2 ** -F.INV_NNZ.frac)
    assert img.layer_entry(0, 0, 1)["inv_nnz"] == 0                   # mean nnz 0
    assert img.variant_entry(1, 1) == {"n_layers": 0, "kinv_iso": 0}  # unused
    assert img.beta == F.BETA.quantize(F.DEFAULT_BETA)[0]
    assert all(v == 0 for v in img.saturated.values())
    img.write(tmp_path)
    back = LutImages.read(tmp_path)
    assert back.variant == img.variant and back.layer == img.layer
    assert back.models == img.models and back.iso_cycles == img.iso_cycles


def test_saturation_counted_and_warned():
    # mean nnz 0.25 -> 1/0.25 = 4.0 does not fit UQ0.32; iso 1000 -> kappa/iso = 2e5 > 65535
    t = _tables({("a", "dense"): _st("a", "dense", [500.0, 500.0], [0.25, 0.5])})
    with pytest.warns(F.FixedPointWarning) as rec:
        img = t.to_lut_images()
    assert img.saturated["inv_nnz"] == 2 and img.saturated["kinv_iso"] == 1
    assert img.layer_entry(0, 0, 0)["inv_nnz"] == F.INV_NNZ.max_int
    assert img.variant_entry(0, 0)["kinv_iso"] == F.KINV_ISO.max_int
    assert {str(w.message).split("'")[1] for w in rec} == {"inv_nnz", "kinv_iso"}


def test_layout_too_small_refused():
    t = _tables({("a", "dense"): _st("a", "dense", [1.0] * 8, [1.0] * 8)})
    with pytest.raises(ValueError, match="do not fit"):
        t.to_lut_images(F.LutLayout(1, 1, 3))


def test_initial_estimate_and_pattern_average():
    t = _tables({("a", "dense"): _st("a", "dense", [100.0, 300.0], [4.0, 8.0]),
                 ("a", "block50"): _st("a", "block50", [50.0, 50.0], [2.0, 2.0])})
    assert t.initial_estimate("a", "block50", 1000, 2.5) == (1000 + 250, 100.0)
    assert t.deadline("a", "dense", 7, 1.5) == 7 + 600
    avg = t.pattern_averaged()
    for p in ("dense", "block50"):
        s = avg.get("a", p)
        assert s.rem.tolist() == [250.0, 175.0, 0.0]
        assert s.mean_nnz.tolist() == [3.0, 5.0] and s.iso == 250.0
    bad = _tables({("a", "dense"): _st("a", "dense", [1.0], [1.0]),
                   ("a", "x"): _st("a", "x", [1.0, 2.0], [1.0, 1.0])})
    with pytest.raises(ValueError, match="different layer counts"):
        bad.pattern_averaged()
    with pytest.raises(KeyError, match="a/nope"):
        t.get("a", "nope")

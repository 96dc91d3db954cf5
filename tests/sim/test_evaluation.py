"""`make evaluation` end to end on the fixture scenarios (small): sections per scenario and
protocol, figures, paired verdicts that can go either way."""

import math

from sim.evaluation import _cmp, run_evaluation


def test_paired_comparison():
    a = {0: {"m": 0.10}, 1: {"m": 0.12}, 2: {"m": 0.11}}
    b = {0: {"m": 0.20}, 1: {"m": 0.21}, 2: {"m": 0.22}}
    v, d, ci = _cmp(a, b, "m")
    assert v == "win" and math.isclose(d, -0.1) and ci < 0.1
    assert _cmp(b, a, "m")[0] == "loss"
    assert _cmp(a, a, "m")[:2] == ("tie", 0.0)                # identical schedules: a tie


def test_evaluation_document(tmp_path):
    doc = tmp_path / "docs" / "evaluation.md"
    r = run_evaluation(tmp_path / "out", doc, tmp_path / "docs" / "img",
                       scenarios=("fixture_small", "fixture_mix"), seeds=(0, 1, 2), n=60,
                       jobs=1, hardware=())
    text = doc.read_text()
    for w in ("fixture_small", "fixture_mix"):
        assert f"## {w}" in text
        for proto in ("fair", "paper"):
            assert f"### {w}, protocol `{proto}`" in text
            assert (tmp_path / "docs" / "img" / f"eval_{w}_{proto}_viol_load.png").is_file()
    assert "## What the data show" in text and "Ablation at the default point" in text
    assert "## Gamma predictors" in text and "| fixture_mix | " in text
    # a rerun computes nothing: every point is cached
    r2 = run_evaluation(tmp_path / "out", doc, tmp_path / "docs" / "img",
                        scenarios=("fixture_small", "fixture_mix"), seeds=(0, 1, 2), n=60,
                        jobs=1, hardware=())
    assert r2["sweep"]["computed"] == 0 and r["sweep"]["computed"] == r["points"]

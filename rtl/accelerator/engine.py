"""Zero-skipping sparse GEMM engine with ``P`` lanes, drain stage and layer sequencer.

One command runs one layer (``groups`` GEMMs of ``M x K x N``) over the on-chip buffers.
Loop order: group ``g`` -> row ``m`` -> column pass ``p`` (``P`` columns each). A row pass:

``BCAST``  w + 1 cycles  issue one effective non-zero per cycle (lowest set bit of ``rem``)
                         into the pipeline: scan (``SCAN_LATENCY``), ``XVAL``/``WEIGHT``
                         read, lanes (``MAC_LATENCY``); the cycle that finds none left
                         starts the flush
``FLUSH``  ``FLUSH_CYCLES - 1``  the last product reaches the accumulators; meanwhile the
                         loop counters advance and the next pass's ``LOAD`` (read its row
                         bitmap/pointer and live bitmap, register its loop flags) and
                         ``SETUP`` (register the read data) run
``DRAIN``  n cycles      issue one valid column per cycle into the drain pipeline (select,
                         shift, saturate/activation/zero test: ``DRAIN_LATENCY``), which
                         emits non-zeros (and the row's end marker) on ``out`` and counts
                         non-zeros; the last issue clears the lanes; meanwhile
                         ``rem = row bitmap & live bitmap`` for the next pass

Per layer: the command cycle, ``INIT``, the first pass's ``LOAD``, ``SETUP`` and ``PREP``
(``rem = row bitmap & live bitmap``; later passes do it in ``DRAIN``), ``TAIL``
(the drain pipeline empties, the response is latched) and the response cycle. Hence, with
``out``/``resp`` always ready, exactly :func:`rtl.accelerator.cycle_model.layer_cycles`
cycles from the ``cmd`` transfer cycle to the ``resp`` transfer cycle, inclusive.
Back-pressure on ``out`` stalls the drain pipeline and ``DRAIN`` (adds cycles, never loses
or repeats an entry).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sw_scheduler.timing import DRAIN_LATENCY, FLUSH_CYCLES

from ..ports import WritePort
from .bitscan import BitScan
from .lanes import LaneArray
from .layouts import (
    ACT,
    ADDR_WIDTH,
    CMD_LAYOUT,
    DIM_WIDTH,
    LANE_RANGE,
    MAX_DEPTH,
    OUT_LAYOUT,
    RESP_LAYOUT,
    Activation,
    Buffer,
    load_layout,
)

__all__ = ["SparseEngine"]

if FLUSH_CYCLES < 4:   # FLUSH (FLUSH_CYCLES - 1 cycles) holds the loop advance, LOAD and SETUP
    raise ValueError(f"SparseEngine needs FLUSH_CYCLES >= 4, cycle_model has {FLUSH_CYCLES}")


class SparseEngine(wiring.Component):
    """Sparse GEMM engine: command in, compressed output rows and a done response out.

    Parameters
    ----------
    lanes : int
        ``P``, output columns computed per pass (8..64).
    max_k : int
        Largest reduction length ``K`` (width of the row/live bitmaps).
    x_rows, x_vals, w_words, live_words : int
        Depths of the XMASK/XPTR, XVAL, WEIGHT and LIVE buffers (each <= 65536).

    Members
    -------
    cmd : In(stream.Signature(CMD_LAYOUT))
        Layer descriptor; accepted only when idle.
    resp : Out(stream.Signature(RESP_LAYOUT))
        One per command, after its last output entry: ``tag`` and output non-zero count.
    out : Out(stream.Signature(OUT_LAYOUT))
        Compressed output rows (see :mod:`rtl.accelerator.reference`).
    load : In(WritePort(load_layout(...)))
        Buffer writes, one word per cycle, ``ready`` is constant 1; the host must not
        write a region that the running command reads.
    busy : Out(1)
        A command is in progress.
    """

    def __init__(self, *, lanes: int = 16, max_k: int = 64, x_rows: int = 256,
                 x_vals: int = 4096, w_words: int = 1024, live_words: int = 64):
        try:
            self._validate(lanes=lanes, max_k=max_k, x_rows=x_rows, x_vals=x_vals,
                           w_words=w_words, live_words=live_words)
        except ValueError:
            self._MustUse__silence = True   # a rejected object is not an unused elaboratable
            raise
        self._lanes, self._max_k = lanes, max_k
        self._depths = {"x_rows": x_rows, "x_vals": x_vals, "w_words": w_words,
                        "live_words": live_words}
        self._load_layout = load_layout(lanes=lanes, max_k=max_k)
        super().__init__({
            "cmd": In(stream.Signature(CMD_LAYOUT)),
            "resp": Out(stream.Signature(RESP_LAYOUT)),
            "out": Out(stream.Signature(OUT_LAYOUT)),
            "load": In(WritePort(self._load_layout)),
            "busy": Out(1),
        })

    @staticmethod
    def _validate(*, lanes, max_k, **depths):
        if not isinstance(lanes, int) or not LANE_RANGE[0] <= lanes <= LANE_RANGE[1]:
            raise ValueError(f"SparseEngine: lanes must be an int in {LANE_RANGE}, got {lanes!r}")
        if not isinstance(max_k, int) or not 1 <= max_k < (1 << 17):
            raise ValueError(f"SparseEngine: max_k must be an int in 1..131071, got {max_k!r}")
        for name, v in depths.items():
            if not isinstance(v, int) or not 1 <= v <= MAX_DEPTH:
                raise ValueError(f"SparseEngine: {name} must be an int in 1..{MAX_DEPTH}, "
                                 f"got {v!r}")

    lanes = property(lambda self: self._lanes)
    max_k = property(lambda self: self._max_k)
    depths = property(lambda self: dict(self._depths))
    load_layout = property(lambda self: self._load_layout)

    def elaborate(self, platform):
        m = Module()
        P, K = self._lanes, self._max_k
        word = data.ArrayLayout(ACT, P)

        # ---- buffers and their load path ---------------------------------------------------
        mems = {
            Buffer.XMASK: Memory(shape=unsigned(K), depth=self._depths["x_rows"], init=[]),
            Buffer.XPTR: Memory(shape=unsigned(ADDR_WIDTH), depth=self._depths["x_rows"],
                                init=[]),
            Buffer.XVAL: Memory(shape=ACT, depth=self._depths["x_vals"], init=[]),
            Buffer.WEIGHT: Memory(shape=word, depth=self._depths["w_words"], init=[]),
            Buffer.LIVE: Memory(shape=unsigned(K), depth=self._depths["live_words"], init=[]),
        }
        rd = {}
        for buf, mem in mems.items():
            m.submodules[f"mem_{buf.name.lower()}"] = mem
            wp = mem.write_port()
            m.d.comb += [
                wp.addr.eq(self.load.payload.addr),
                wp.data.eq(self.load.payload.data[:Shape.cast(mem.shape).width]),
                wp.en.eq(self.load.valid & (self.load.payload.buf == buf)),
            ]
            rd[buf] = mem.read_port()

        # ---- sequencer state ---------------------------------------------------------------
        c = Signal(CMD_LAYOUT)
        g_cnt = Signal(DIM_WIDTH)
        m_cnt = Signal(DIM_WIDTH)
        col_base = Signal(DIM_WIDTH + 1)
        x_row = Signal(ADDR_WIDTH)        # XMASK/XPTR address of the current row
        g_wbase = Signal(ADDR_WIDTH)      # WEIGHT address of (g, pass 0, k 0)
        pass_wbase = Signal(ADDR_WIDTH)   # WEIGHT address of (g, p, k 0)
        g_live = Signal(ADDR_WIDTH)
        pass_live = Signal(ADDR_WIDTH)
        nnz = Signal.like(self.resp.p.nnz)
        resp_r = Signal(RESP_LAYOUT)
        # per row pass, registered in LOAD: keeps compares out of the drain's control path
        last_pass = Signal()              # this column pass is the row's last
        last_row = Signal()               # this row is the group's last
        last_group = Signal()             # this group is the layer's last
        last_j = Signal(range(P))         # index of the pass's last valid column
        # the same for the pass being drained (the loop counters run one pass ahead)
        dr_col_base = Signal(DIM_WIDTH + 1)
        dr_last_pass = Signal()
        dr_last_j = Signal(range(P))
        dr_end = Signal()                 # the layer's last row pass
        flush_cnt = Signal(range(FLUSH_CYCLES + 1))
        tail_cnt = Signal(range(DRAIN_LATENCY + 4))

        m.d.comb += [rd[Buffer.XMASK].addr.eq(x_row), rd[Buffer.XPTR].addr.eq(x_row),
                     rd[Buffer.LIVE].addr.eq(pass_live)]

        # ---- broadcast stage: scan (SCAN_LATENCY) -> reads (READ_LATENCY) -> lanes --------
        bc_mask = Signal(K)               # the row's bitmap
        bc_rem = Signal(K)                # effective entries not yet broadcast
        bc_ptr = Signal(ADDR_WIDTH)
        bc_live = Signal(K)               # the pass's live bitmap
        m.submodules.scan = scan = BitScan(K)
        m.d.comb += [
            scan.pending.eq(bc_rem), scan.row.eq(bc_mask),
            rd[Buffer.XVAL].addr.eq(bc_ptr + scan.rank),
            rd[Buffer.WEIGHT].addr.eq(pass_wbase + scan.index),
        ]
        mac_valid = Signal()              # the read data of this cycle is a broadcast
        clear = Signal()
        m.d.sync += mac_valid.eq(scan.valid)
        m.submodules.lanes = lanes = LaneArray(P)
        m.d.comb += [lanes.mac.eq(mac_valid), lanes.x.eq(rd[Buffer.XVAL].data),
                     lanes.w.eq(rd[Buffer.WEIGHT].data), lanes.clear.eq(clear)]

        # ---- drain pipeline: issue (select) -> shift -> saturate/emit (DRAIN_LATENCY) -----
        # every stage advances together unless the output entry waits for ``out.ready``
        dr_j = Signal(range(P))
        dr_issue = Signal()
        adv = Signal()
        d0_v, d0_last, d0_index, d0_acc = (Signal(), Signal(), Signal(DIM_WIDTH),
                                           Signal(lanes.drain_acc.shape()))
        d1_v, d1_last, d1_index, d1_sh = (Signal(), Signal(), Signal(DIM_WIDTH),
                                          Signal(lanes.drain_acc.shape()))
        d2_v = Signal()
        lo, hi = -(1 << (ACT.width - 1)), (1 << (ACT.width - 1)) - 1
        floor = Mux(c.act == Activation.RELU, 0, lo)       # -128, or 0 with ReLU
        y = Mux(d1_sh > hi, hi, Mux(d1_sh < floor, floor, d1_sh))
        dr_last_col = dr_j == dr_last_j
        m.d.comb += [
            lanes.drain_sel.eq(dr_j),
            adv.eq(~self.out.valid | self.out.ready),
            self.out.valid.eq(d2_v & (self.out.p.nz | self.out.p.last)),
            self.resp.p.eq(resp_r),
        ]
        with m.If(adv):
            m.d.sync += [
                d0_v.eq(dr_issue), d0_acc.eq(lanes.drain_acc),
                d0_index.eq(dr_col_base + dr_j), d0_last.eq(dr_last_pass & dr_last_col),
                d1_v.eq(d0_v), d1_sh.eq(d0_acc >> c.shift), d1_index.eq(d0_index),
                d1_last.eq(d0_last),
                d2_v.eq(d1_v), self.out.p.value.eq(y), self.out.p.nz.eq(y != 0),
                self.out.p.index.eq(d1_index), self.out.p.last.eq(d1_last),
            ]
        with m.If(self.out.valid & self.out.ready):
            m.d.sync += nnz.eq(nnz + self.out.p.nz)
        drain_empty = ~d0_v & ~d1_v & ~d2_v

        def load_flags():
            # LOAD work: the row pass's loop flags from the loop counters (its reads are
            # addressed by ``x_row``/``pass_live``)
            left = c.N - col_base
            m.d.sync += [
                last_pass.eq(left <= P),
                last_j.eq(Mux(left <= P, left - 1, P - 1)),
                last_row.eq(m_cnt == c.M - 1),
                last_group.eq(g_cnt == c.groups - 1),
            ]

        def setup():
            # SETUP work: register the read data (the AND follows in PREP or DRAIN)
            m.d.sync += [bc_mask.eq(rd[Buffer.XMASK].data), bc_live.eq(rd[Buffer.LIVE].data),
                         bc_ptr.eq(rd[Buffer.XPTR].data), dr_j.eq(0)]

        def prep():
            # effective entries of the next pass = row bitmap & live weight rows
            m.d.sync += bc_rem.eq(bc_mask & bc_live)

        with m.FSM():
            with m.State("IDLE"):
                # accept a layer descriptor
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += c.eq(self.cmd.p)
                    m.next = "INIT"
            with m.State("INIT"):
                # reset the loop counters and buffer pointers; empty layers finish at once
                # (their TAIL also covers the LOAD, SETUP and PREP of the first row pass)
                m.d.comb += self.busy.eq(1)
                m.d.sync += [
                    g_cnt.eq(0), m_cnt.eq(0), col_base.eq(0), nnz.eq(0),
                    x_row.eq(c.x_base), g_wbase.eq(c.w_base), pass_wbase.eq(c.w_base),
                    g_live.eq(c.live_base), pass_live.eq(c.live_base),
                ]
                with m.If((c.M == 0) | (c.N == 0) | (c.groups == 0)):
                    m.d.sync += tail_cnt.eq(DRAIN_LATENCY + 3)
                    m.next = "TAIL"
                with m.Else():
                    m.next = "LOAD"
            with m.State("LOAD"):
                # first row pass of the layer: read its row and live bitmaps; clear the lanes
                m.d.comb += [self.busy.eq(1), clear.eq(1)]
                load_flags()
                m.next = "SETUP"
            with m.State("SETUP"):
                m.d.comb += self.busy.eq(1)
                setup()
                m.next = "PREP"
            with m.State("PREP"):
                m.d.comb += self.busy.eq(1)
                prep()
                m.next = "BCAST"
            with m.State("BCAST"):
                # issue one effective non-zero per cycle; the cycle that finds none left is
                # the first of the flush (w + 1 cycles; the exit test is a plain zero test)
                m.d.comb += [self.busy.eq(1), scan.issue.eq(bc_rem != 0)]
                m.d.sync += bc_rem.eq(scan.rest)
                with m.If(bc_rem == 0):
                    m.d.sync += flush_cnt.eq(FLUSH_CYCLES - 2)
                    m.next = "FLUSH"
            with m.State("FLUSH"):
                # wait until the last broadcast's product is in the accumulators; meanwhile
                # (its address stage is over) advance the loop to the next row pass and do
                # that pass's LOAD and SETUP
                m.d.comb += self.busy.eq(1)
                m.d.sync += flush_cnt.eq(flush_cnt - 1)
                with m.If(flush_cnt == 2):
                    m.d.sync += [dr_col_base.eq(col_base), dr_last_pass.eq(last_pass),
                                 dr_last_j.eq(last_j),
                                 dr_end.eq(last_pass & last_row & last_group)]
                    with m.If(~last_pass):
                        # next column pass of the same row
                        m.d.sync += [col_base.eq(col_base + P), pass_wbase.eq(pass_wbase + c.K),
                                     pass_live.eq(pass_live + 1)]
                    with m.Elif(~last_row):
                        # next row of the same group
                        m.d.sync += [col_base.eq(0), pass_wbase.eq(g_wbase),
                                     pass_live.eq(g_live), x_row.eq(x_row + 1),
                                     m_cnt.eq(m_cnt + 1)]
                    with m.Elif(~last_group):
                        # first row of the next group
                        m.d.sync += [col_base.eq(0), x_row.eq(x_row + 1), m_cnt.eq(0),
                                     g_cnt.eq(g_cnt + 1),
                                     g_wbase.eq(pass_wbase + c.K), pass_wbase.eq(pass_wbase + c.K),
                                     g_live.eq(pass_live + 1), pass_live.eq(pass_live + 1)]
                with m.If(flush_cnt == 1):
                    load_flags()
                with m.If(flush_cnt == 0):
                    setup()
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # issue one valid column per cycle into the drain pipeline; hold on a stall;
                # the last issue clears the lanes for the next row pass
                m.d.comb += [self.busy.eq(1), dr_issue.eq(1)]
                prep()
                with m.If(adv):
                    m.d.sync += dr_j.eq(dr_j + 1)
                    with m.If(dr_last_col):
                        m.d.comb += clear.eq(1)
                        with m.If(dr_end):
                            m.d.sync += tail_cnt.eq(DRAIN_LATENCY)
                            m.next = "TAIL"
                        with m.Else():
                            m.next = "BCAST"
            with m.State("TAIL"):
                # let the drain pipeline empty (at least DRAIN_LATENCY cycles), latch the response
                m.d.comb += self.busy.eq(1)
                with m.If(tail_cnt != 0):
                    m.d.sync += tail_cnt.eq(tail_cnt - 1)
                with m.Elif(drain_empty):
                    m.d.sync += [resp_r.tag.eq(c.tag), resp_r.nnz.eq(nnz)]
                    m.next = "RESP"
            with m.State("RESP"):
                # offer the response until it is taken
                m.d.comb += [self.busy.eq(1), self.resp.valid.eq(1)]
                with m.If(self.resp.ready):
                    m.next = "IDLE"
        return m


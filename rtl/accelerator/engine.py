"""Sparse GEMM engine with ``P`` lanes that skip the zeros of both operands.

One command runs one layer (``groups`` GEMMs of ``M x K x N``) over the on-chip buffers.
Loop order: group ``g`` -> row ``m`` -> column pass ``p`` (``P`` columns each); a *row pass*
is one operand row against one column pass. Four parts run concurrently, one row pass
apart (``PREP_LATENCY``, ``MAC_LATENCY``, ``DRAIN_LATENCY`` in :mod:`sw_scheduler.timing`):

``loop``   issues one row pass per cycle (its row and its lane bitmaps are read)
``prep``   per lane: effective-product bitmap ``pend[j] = row mask & weight mask[j]`` and
           its popcount; stalls while its last stage holds a pass the lanes have not taken
``lanes``  :class:`~rtl.accelerator.lanes.LaneArray`: every lane multiplies its own next
           effective product each cycle; a pass lasts ``max(max_j count_j, 1)`` cycles and
           the next one follows in the next cycle into the other accumulator bank
``drain``  :class:`~rtl.accelerator.drain.Drain`: the finished bank, all ``P`` columns at
           once, shift / saturate / activation / zero test -> an ``out`` entry (FIFO)

Hence, with ``out`` and ``resp`` always ready, a layer takes exactly
:func:`rtl.accelerator.cycle_model.layer_cycles` cycles from the ``cmd`` transfer cycle to
the ``resp`` transfer cycle, inclusive. The lanes start a pass only with an ``out`` FIFO
slot reserved for it (credits), so back-pressure on ``out`` stalls whole passes and never
loses or repeats an entry.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sw_scheduler.timing import DRAIN_LATENCY, LAYER_OVERHEAD, PREP_LATENCY

from ..ports import WritePort
from .bits import popcount, sat_count, tree_sum
from .drain import DRAIN_STAGES, Drain
from .lanes import PASS_META, LaneArray
from .layouts import (
    ACT,
    ADDR_WIDTH,
    CMD_LAYOUT,
    DEFAULT_MAX_K,
    DIM_WIDTH,
    LANE_CHOICES,
    MAX_DEPTH,
    RESP_LAYOUT,
    Activation,
    Buffer,
    load_layout,
    out_layout,
)

__all__ = ["OUT_FIFO_DEPTH", "PASS_QUEUE", "SparseEngine"]

OUT_FIFO_DEPTH = 16     # out entries reserved ahead: more than the passes in flight
PASS_QUEUE = 16         # row passes issued and not yet ended: more than one token's round trip
SLICE = 8               # bits per slice popcount in prep

if PREP_LATENCY != 6 or DRAIN_LATENCY != DRAIN_STAGES + 1:
    raise ValueError("SparseEngine: timing contract and pipeline depths disagree")


class SparseEngine(wiring.Component):
    """Sparse GEMM engine: command in, output row passes and a done response out.

    Parameters
    ----------
    lanes : int
        ``P``, output columns per pass: 8, 16, 32 or 64.
    max_k : int
        Largest reduction length ``K`` (row width, bitmap width).
    x_rows, w_words, live_words : int
        Depths of the XROW buffer, of each lane's WEIGHT memory and of the LIVE buffer
        (each <= 65536).

    Members
    -------
    cmd : In(stream.Signature(CMD_LAYOUT))
        Layer descriptor; accepted only when idle.
    resp : Out(stream.Signature(RESP_LAYOUT))
        One per command, with its last ``out`` entry or after it: ``tag`` and the output
        non-zero count.
    out : Out(stream.Signature(out_layout(lanes)))
        One entry per row pass, in loop order (see :mod:`rtl.accelerator.reference`).
    load : In(WritePort(load_layout(...)))
        Buffer writes, one whole word per cycle; the host must not write a region that the
        running command reads.
    busy : Out(1)
        A command is in progress.
    """

    def __init__(self, *, lanes: int = 16, max_k: int = DEFAULT_MAX_K, x_rows: int = 256,
                 w_words: int = 1024, live_words: int = 64):
        try:
            self._validate(lanes=lanes, max_k=max_k, x_rows=x_rows, w_words=w_words,
                           live_words=live_words)
        except ValueError:
            self._MustUse__silence = True   # a rejected object is not an unused elaboratable
            raise
        self._lanes, self._max_k = lanes, max_k
        self._depths = {"x_rows": x_rows, "w_words": w_words, "live_words": live_words}
        self._load_layout = load_layout(lanes=lanes, max_k=max_k)
        self._out_layout = out_layout(lanes)
        super().__init__({
            "cmd": In(stream.Signature(CMD_LAYOUT)),
            "resp": Out(stream.Signature(RESP_LAYOUT)),
            "out": Out(stream.Signature(self._out_layout)),
            "load": In(WritePort(self._load_layout)),
            "busy": Out(1),
        })

    @staticmethod
    def _validate(*, lanes, max_k, **depths):
        if lanes not in LANE_CHOICES or not isinstance(lanes, int):
            raise ValueError(f"SparseEngine: lanes must be one of {LANE_CHOICES}, got {lanes!r}")
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
    out_layout = property(lambda self: self._out_layout)

    def elaborate(self, platform):
        m = Module()
        P, K = self._lanes, self._max_k
        log_p = P.bit_length() - 1
        row_layout = data.ArrayLayout(ACT, K)
        lane_masks = data.ArrayLayout(unsigned(K), P)
        ld = self.load

        # ---- buffers and their load path (XMASK: the row's non-zeros, kept beside XROW) ----
        xrow = Memory(shape=row_layout, depth=self._depths["x_rows"], init=[])
        xmask = Memory(shape=unsigned(K), depth=self._depths["x_rows"], init=[])
        live = Memory(shape=lane_masks, depth=self._depths["live_words"], init=[])
        m.submodules.mem_xrow, m.submodules.mem_xmask, m.submodules.mem_live = xrow, xmask, live
        ld_row = data.View(row_layout, ld.payload.data[:row_layout.size])
        for mem, value, buf in ((xrow, ld_row, Buffer.XROW),
                                (xmask, Cat(*[v.any() for v in ld_row]), Buffer.XROW),
                                (live, ld.payload.data[:lane_masks.size], Buffer.LIVE)):
            wp = mem.write_port()
            m.d.comb += [wp.addr.eq(ld.payload.addr), wp.data.eq(value),
                         wp.en.eq(ld.valid & (ld.payload.buf == buf))]
        m.submodules.lanes = lanes = LaneArray(lanes=P, max_k=K, w_words=self._depths["w_words"])
        m.d.comb += [lanes.wload.valid.eq(ld.valid & (ld.payload.buf == Buffer.WEIGHT)),
                     lanes.wload.payload.addr.eq(ld.payload.addr),
                     lanes.wload.payload.data.eq(ld.payload.data[:P * ACT.width])]

        # ---- command state --------------------------------------------------------------
        c = Signal(CMD_LAYOUT)
        nnz = Signal.like(self.resp.p.nnz)
        resp_r = Signal(RESP_LAYOUT)
        wait = Signal(range(LAYER_OVERHEAD))
        m.d.comb += self.resp.p.eq(resp_r)

        # ---- loop: one row pass per cycle while the pass queue has room -----------------
        issue = Signal()                    # a row pass is issued (its words are read)
        lp_on = Signal()                    # passes left to issue
        q_free = Signal(range(PASS_QUEUE + 1), init=PASS_QUEUE)   # queue slots not reserved
        q_room = Signal(init=1)             # q_free != 0, registered
        p_left, m_left, g_left = Signal(DIM_WIDTH), Signal(DIM_WIDTH), Signal(DIM_WIDTH)
        passes_m1, m_m1 = Signal(DIM_WIDTH), Signal(DIM_WIDTH)
        col = Signal(DIM_WIDTH)
        x_row = Signal(ADDR_WIDTH)
        live_a, g_live = Signal(ADDR_WIDTH), Signal(ADDR_WIDTH)
        wb, g_wb = Signal(ADDR_WIDTH), Signal(ADDR_WIDTH)
        rd_mask, rd_live = xmask.read_port(), live.read_port()
        m.d.comb += [rd_mask.addr.eq(x_row), rd_live.addr.eq(live_a),
                     issue.eq(lp_on & q_room)]
        end_p, end_m, end_g = p_left == 0, m_left == 0, g_left == 0
        # stage 1: the read data of the pass issued one cycle earlier
        v1, wb1, xr1, meta1 = Signal(), Signal(ADDR_WIDTH), Signal(ADDR_WIDTH), Signal(PASS_META)
        m.d.sync += [v1.eq(issue), wb1.eq(wb), xr1.eq(x_row), meta1.col.eq(col),
                     meta1.last.eq(end_p),
                     meta1.end.eq(end_p & end_m & end_g)]
        with m.If(issue):
            with m.If(~end_p):                     # next column pass of the row
                m.d.sync += [p_left.eq(p_left - 1), col.eq(col + P),
                             live_a.eq(live_a + 1), wb.eq(wb + c.K)]
            with m.Elif(~end_m):                   # next row of the group
                m.d.sync += [p_left.eq(passes_m1), m_left.eq(m_left - 1), col.eq(0),
                             x_row.eq(x_row + 1), live_a.eq(g_live), wb.eq(g_wb)]
            with m.Elif(~end_g):                   # first row of the next group
                m.d.sync += [p_left.eq(passes_m1), m_left.eq(m_m1), g_left.eq(g_left - 1),
                             col.eq(0), x_row.eq(x_row + 1),
                             live_a.eq(live_a + 1), g_live.eq(live_a + 1),
                             wb.eq(wb + c.K), g_wb.eq(wb + c.K)]
            with m.Else():
                m.d.sync += lp_on.eq(0)

        # ---- prep: stage 2 registers the read words (and writes the lane bitmaps into the
        # queue), 3 the slice counts, 4 the lane counts (no stall: the loop reserved a slot) --
        v2, wb2, xr2, meta2 = Signal(), Signal(ADDR_WIDTH), Signal(ADDR_WIDTH), Signal(PASS_META)
        mask2, live2 = Signal(K), Signal(lane_masks)
        v3, v4 = Signal(), Signal()
        pend2 = Signal(lane_masks)          # the lane bitmaps (combinational, into pendq)
        slices = [(lo, min(lo + SLICE, K)) for lo in range(0, K, SLICE)]
        cnt3 = [[Signal(range(hi - lo + 1), name=f"cnt3_{j}_{lo}") for lo, hi in slices]
                for j in range(P)]
        cnt4 = Signal(data.ArrayLayout(unsigned(K.bit_length()), P))
        # per lane at most one (two) effective products in stage 3, for every lane in stage 4
        le1_3 = [Signal(name=f"le1_3_{j}") for j in range(P)]
        le2_3 = [Signal(name=f"le2_3_{j}") for j in range(P)]
        le1_4, le2_4 = Signal(), Signal()
        m.d.sync += [v2.eq(v1), wb2.eq(wb1), meta2.eq(meta1), xr2.eq(xr1),
                     mask2.eq(rd_mask.data), live2.eq(rd_live.data), v3.eq(v2), v4.eq(v3)]
        for j in range(P):
            pj = mask2 & live2[j]
            m.d.comb += pend2[j].eq(pj)
            m.d.sync += [cnt3[j][s].eq(popcount(pj[lo:hi], hi - lo))
                         for s, (lo, hi) in enumerate(slices)]
            m.d.sync += cnt4[j].eq(tree_sum(cnt3[j]))
            sat = sat_count(m, pj, K, name=f"sat{j}")     # min(popcount, 3), shallow
            m.d.sync += [le1_3[j].eq(sat <= 1), le2_3[j].eq(sat <= 2)]
        m.d.sync += [le1_4.eq(Cat(*le1_3).all()), le2_4.eq(Cat(*le2_3).all())]

        # ---- the pass queue, written as each part is ready (narrow FIFOs, LUT RAM): the
        # current pass's row / weight base / meta (``curq``, read at its head while the pass
        # runs, popped at its end), the next pass's lane bitmaps and counts (popped when it
        # starts) --------------------------------------------------------------------------
        q_cur = data.StructLayout({"xrow": unsigned(ADDR_WIDTH), "wbase": unsigned(ADDR_WIDTH),
                                   "meta": PASS_META})
        curq = SyncFIFO(width=q_cur.size, depth=PASS_QUEUE)
        q_cnt = data.StructLayout({"count": cnt4.shape(), "le1": 1, "le2": 1})
        cntq = SyncFIFO(width=q_cnt.size, depth=PASS_QUEUE)
        pendq = [SyncFIFO(width=K, depth=PASS_QUEUE) for _ in range(P)]
        m.submodules.curq, m.submodules.cntq = curq, cntq
        cur_in, cnt_in = Signal(q_cur), Signal(q_cnt)
        m.d.comb += [cur_in.xrow.eq(xr2), cur_in.wbase.eq(wb2), cur_in.meta.eq(meta2),
                     curq.w_data.eq(cur_in), curq.w_en.eq(v2),
                     cnt_in.count.eq(cnt4), cnt_in.le1.eq(le1_4), cnt_in.le2.eq(le2_4),
                     cntq.w_data.eq(cnt_in), cntq.w_en.eq(v4)]
        for j, q in enumerate(pendq):
            m.submodules[f"pendq{j}"] = q
            m.d.comb += [q.w_data.eq(pend2[j]), q.w_en.eq(v2)]
        cur = data.View(q_cur, curq.r_data)
        # the head pass's operand row, read from XROW while it runs: the lanes use it in
        # the cycle after each issue (their stage A)
        rd_row = xrow.read_port()
        m.d.comb += rd_row.addr.eq(cur.xrow)
        cnt_out = data.View(q_cnt, cntq.r_data)

        # ---- lanes take a pass when they need one, it is ready and an out slot is free;
        # ``start`` is a register (it fans out to every lane bitmap bit), so it is computed
        # from the next-cycle values of those three conditions ---------------------------
        # (an ``out`` transfer returns its credit a cycle later: ``out.ready`` is an input)
        credit = Signal(range(OUT_FIFO_DEPTH + 1), init=OUT_FIFO_DEPTH)
        start = Signal()
        taken, taken_r = self.out.valid & self.out.ready, Signal()
        credit_next = Signal.like(credit)
        m.d.sync += taken_r.eq(taken)
        m.d.comb += [
            credit_next.eq(credit - start + taken_r),
            lanes.start.eq(start), lanes.row.eq(rd_row.data), lanes.wbase.eq(cur.wbase),
            lanes.meta.eq(cur.meta), curq.r_en.eq(lanes.pass_end), cntq.r_en.eq(start),
        ]
        m.d.sync += [credit.eq(credit_next),
                     start.eq(lanes.need_next & (cntq.level + v4 - start != 0)
                              & (credit_next != 0))]
        m.d.comb += [q.r_en.eq(start) for q in pendq]
        m.d.comb += [lanes.pend[j].eq(q.r_data) for j, q in enumerate(pendq)]
        m.d.comb += [lanes.count[j].eq(cnt_out.count[j]) for j in range(P)]
        m.d.comb += [lanes.le1.eq(cnt_out.le1), lanes.le2.eq(cnt_out.le2)]
        # a queue slot is reserved when a pass is issued and returned when it ends
        slots_next = q_free - issue + lanes.pass_end
        m.d.sync += [q_free.eq(slots_next), q_room.eq(slots_next != 0)]

        # ---- drain -> out FIFO -----------------------------------------------------------
        m.submodules.drain = drain = Drain(P)
        m.d.comb += [drain.cap_valid.eq(lanes.cap_valid), drain.cap_acc.eq(lanes.cap_acc),
                     drain.cap_meta.eq(lanes.cap_meta), drain.shift.eq(c.shift),
                     drain.relu.eq(c.act == Activation.RELU)]
        m.submodules.fifo = fifo = SyncFIFO(width=self._out_layout.size, depth=OUT_FIFO_DEPTH)
        fin = Signal()                      # the layer's last entry is in the FIFO
        pc = Signal(range(P + 1))           # non-zeros of the entry written last cycle
        m.d.comb += [fifo.w_data.eq(drain.o_entry), fifo.w_en.eq(drain.o_valid),
                     self.out.valid.eq(fifo.r_rdy), self.out.payload.eq(fifo.r_data),
                     fifo.r_en.eq(self.out.ready)]
        m.d.sync += pc.eq(Mux(drain.o_valid, popcount(drain.o_entry.nz, P), 0))
        m.d.sync += nnz.eq(nnz + pc)
        with m.If(drain.o_valid & drain.o_end):
            m.d.sync += fin.eq(1)

        with m.FSM():
            with m.State("IDLE"):
                # accept a layer descriptor
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += c.eq(self.cmd.p)
                    m.next = "INIT"
            with m.State("INIT"):
                # loop counters and buffer pointers; an empty layer only waits
                m.d.comb += self.busy.eq(1)
                m.d.sync += [
                    p_left.eq((c.N - 1) >> log_p), passes_m1.eq((c.N - 1) >> log_p),
                    m_left.eq(c.M - 1), m_m1.eq(c.M - 1), g_left.eq(c.groups - 1), col.eq(0),
                    x_row.eq(c.x_base), live_a.eq(c.live_base), g_live.eq(c.live_base),
                    wb.eq(c.w_base), g_wb.eq(c.w_base), nnz.eq(0), fin.eq(0),
                ]
                with m.If((c.M == 0) | (c.N == 0) | (c.groups == 0)):
                    m.d.sync += wait.eq(LAYER_OVERHEAD - 4)
                    m.next = "WAIT"
                with m.Else():
                    m.d.sync += lp_on.eq(1)
                    m.next = "RUN"
            with m.State("WAIT"):
                # an empty layer: the same fixed overhead as any layer
                m.d.comb += self.busy.eq(1)
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 0):
                    m.d.sync += [resp_r.tag.eq(c.tag), resp_r.nnz.eq(0)]
                    m.next = "RESP"
            with m.State("RUN"):
                # passes flow; the response is latched with the transfer of the last entry
                m.d.comb += self.busy.eq(1)
                with m.If(fin & taken & (fifo.level == 1)):
                    m.d.sync += [resp_r.tag.eq(c.tag), resp_r.nnz.eq(nnz + pc)]
                    m.next = "RESP"
            with m.State("RESP"):
                # offer the response until it is taken
                m.d.comb += [self.busy.eq(1), self.resp.valid.eq(1)]
                with m.If(self.resp.ready):
                    m.next = "IDLE"
        return m


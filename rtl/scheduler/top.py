"""The Dysta dynamic scheduler: task table, LUTs, score pipeline, argmin, predictor, FSM."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F
from sw_scheduler.timing import PRED_LATENCY, RESUME_DELAY, SCAN_OVERHEAD, SCORE_LATENCY

from ..ports import WritePort
from .layouts import LUT_LAYER, LUT_VARIANT, SchedulerConfig
from .policies import score_unit
from .predictor import Predictor
from .score import Argmin
from .table import TaskTable

__all__ = ["DystaScheduler"]

assert SCAN_OVERHEAD == SCORE_LATENCY + 2   # table read + LUT read + score + argmin
# the predictor (inputs from T+1) has gamma ready when slot 0 enters the score unit, and
# the updated row is written back during that SCAN (scan index UPD_WRITE)
UPD_WRITE = 1 + PRED_LATENCY - RESUME_DELAY
assert RESUME_DELAY == 2 and 0 <= UPD_WRITE < SCAN_OVERHEAD


class DystaScheduler(wiring.Component):
    """Sparsity-aware dynamic scheduler, one NPU layer in flight at a time.

    The ranking is ``config.policy``'s score unit (:mod:`rtl.scheduler.policies`; Dysta by
    default); everything else is common to every policy.

    Timing contract (absolute cycles; ``n`` = active requests; see docs/scheduler_rtl.md):
    IDLE (empty) accepts a request at ``a`` -> SCAN from ``a+1``. A SCAN starting at ``c``
    scores every entry with ``t = now(c)`` and presents the command from
    ``c+n+SCAN_OVERHEAD`` until ``npu_cmd.ready``. RUN accepts requests and waits for
    ``npu_resp``; its handshake at ``T`` -> PRED -> SCAN at ``T+RESUME_DELAY``, which
    scores the entry with its update (gamma from the predictor pipeline, layer + 1,
    last_run = ``now(T)``) and writes it back; after the last layer, MOVE at ``T+1`` ->
    RET at ``T+2`` presents the completion (finish = ``now(T)``) until
    ``completions.ready``, then SCAN (or IDLE if empty).

    Parameters
    ----------
    config : SchedulerConfig
    images : LutImages or None
        Initial LUT contents (``images.layout`` must equal ``config.lut``); None = zeros,
        to be written through ``lut_w``.

    Members
    -------
    requests : In(stream.Signature(config.request_layout))
        ``ready`` only in IDLE/RUN and when the table is not full (back-pressure).
    completions : Out(stream.Signature(config.completion_layout))
    npu_cmd : Out(stream.Signature(config.command_layout))
    npu_resp : In(stream.Signature(config.response_layout))
        ``ready`` while a command is in flight (RUN).
    lut_w : In(WritePort(config.lut_write_layout))
        Run-time LUT write: ``table`` LUT_VARIANT/LUT_LAYER, ``addr`` (LutLayout address),
        ``data`` (packed VARIANT_ENTRY/LAYER_ENTRY); one word per valid cycle. Reads see it
        from the next cycle.
    time_w : In(WritePort(time_width))
        Time-base load: in a cycle with ``valid``, ``now`` takes ``payload`` at the edge
        instead of ``now + 1`` (a host synchronising the time base; the system simulation
        jumps over quiet cycles with it). Deadlines and ``last_run`` are counter values,
        so a load moves the scheduler's notion of time for every entry alike.
    now : Out(time_width)
        Free-running cycle counter, ``counter_init`` after reset, wraps modulo
        ``2**time_width``.
    n_active : Out(count_width)
    """

    def __init__(self, config: SchedulerConfig, images=None):
        if not isinstance(config, SchedulerConfig):
            raise TypeError(f"config must be a SchedulerConfig, got {config!r}")
        if images is not None and images.layout != config.lut:
            raise ValueError(f"images layout {images.layout} differs from config {config.lut}")
        self._cfg = config
        self._images = images
        c = config
        super().__init__({
            "requests": In(stream.Signature(c.request_layout)),
            "completions": Out(stream.Signature(c.completion_layout)),
            "npu_cmd": Out(stream.Signature(c.command_layout)),
            "npu_resp": In(stream.Signature(c.response_layout)),
            "lut_w": In(WritePort(c.lut_write_layout)),
            "time_w": In(WritePort(unsigned(c.time_width))),
            "now": Out(c.time_width, init=c.counter_init),
            "n_active": Out(c.count_width),
        })

    @property
    def config(self):
        return self._cfg

    def elaborate(self, platform):
        c, img = self._cfg, self._images
        lut = c.lut
        m = Module()

        with m.If(self.time_w.valid):
            m.d.sync += self.now.eq(self.time_w.payload)
        with m.Else():
            m.d.sync += self.now.eq(self.now + 1)

        # ---- memories ----
        m.submodules.variant_lut = vmem = memory.Memory(
            shape=unsigned(F.VARIANT_ENTRY.size), depth=lut.variant_depth,
            init=img.variant if img is not None else [])
        m.submodules.layer_lut = lmem = memory.Memory(
            shape=unsigned(F.LAYER_ENTRY.size), depth=lut.layer_depth,
            init=img.layer if img is not None else [])
        m.submodules.recip_rom = rmem = memory.Memory(
            shape=F.RECIP.shape, depth=c.recip_depth, init=F.recip_table(c.recip_depth))
        v_rd, l_rd = vmem.read_port(), lmem.read_port()
        r_scan, r_pred = rmem.read_port(), rmem.read_port()
        v_wr, l_wr = vmem.write_port(), lmem.write_port()
        lw = self.lut_w.payload
        m.d.comb += [
            v_wr.addr.eq(lw.addr), v_wr.data.eq(lw.data),
            v_wr.en.eq(self.lut_w.valid & (lw.table == LUT_VARIANT)),
            l_wr.addr.eq(lw.addr), l_wr.data.eq(lw.data),
            l_wr.en.eq(self.lut_w.valid & (lw.table == LUT_LAYER)),
        ]
        v_ent = data.View(F.VARIANT_ENTRY, v_rd.data)
        l_ent = data.View(F.LAYER_ENTRY, l_rd.data)

        # ---- blocks ----
        item = data.StructLayout({"slot": unsigned(c.slot_bits), "row": c.row_layout})
        m.submodules.table = table = TaskTable(c)
        m.submodules.score = score = score_unit(c, item)
        m.submodules.argmin = argmin = Argmin(score_width=c.score_width, payload_shape=item)
        m.submodules.predictor = pred = Predictor(variant=c.predictor,
                                                  count_width=lut.layer_bits + 1)
        wiring.connect(m, score.o, argmin.i)
        wiring.connect(m, wiring.flipped(self.requests), table.intake)
        m.d.comb += [table.now.eq(self.now), self.n_active.eq(table.n_active)]

        best = argmin.best_payload          # the decision, kept through RUN/MOVE/RET
        run = best.row

        def var_addr(row):
            return (row.model << lut.pattern_bits) | row.pattern

        def lay_addr(row):
            return (var_addr(row) << lut.layer_bits) | row.layer

        # ---- scan pipeline: S0 table read, S1 LUT read, S2.. score, argmin ----
        scan_i = Signal(c.count_width + 3)
        t_scan = Signal(c.time_width)
        s1_valid, s1_slot = Signal(), Signal(c.slot_bits)
        s2_valid, s2_slot = Signal(), Signal(c.slot_bits)
        s2_row = Signal(c.row_layout)
        issuing = Signal()
        m.d.sync += [s1_valid.eq(issuing), s1_slot.eq(scan_i[:c.slot_bits]),
                     s2_valid.eq(s1_valid), s2_slot.eq(s1_slot), s2_row.eq(table.rd_data)]
        m.d.comb += [
            score.t.eq(t_scan), score.recip_n.eq(r_scan.data),
            r_scan.addr.eq(table.n_active),
        ]

        # ---- predictor on the running entry, overlapped with the next SCAN ----
        # At the response T: cur_* <- the running entry, nnz_r <- nnz; inv_r holds its
        # LAYER word (addressed from CMD on, frozen after RUN). The predictor inputs are
        # stable from T+1 (recip, a ROM read addressed from cur, from T+2: the predictor uses
        # it from its second register stage on), gamma is valid from T+1+PRED_LATENCY.
        nnz_r, inv_r = Signal(F.NNZ.shape), Signal(F.INV_NNZ.shape)
        cur_row, cur_slot = Signal(c.row_layout), Signal(c.slot_bits)
        pending = Signal()          # the SCAN must see cur_slot's updated row
        m.d.comb += [
            pred.nnz.eq(nnz_r), pred.inv_nnz.eq(inv_r),
            pred.gamma.eq(cur_row.gamma), pred.gamma_sum.eq(cur_row.gamma_sum),
            pred.count.eq(cur_row.count), pred.recip.eq(r_pred.data),
            r_pred.addr.eq(cur_row.count + 1),
        ]
        u_layer = Signal(lut.layer_bits + 1)
        t_done = Signal(c.time_width)

        upd_row = Signal(c.row_layout)
        m.d.comb += [
            upd_row.eq(cur_row), upd_row.gamma.eq(pred.gamma_o),
            upd_row.gamma_sum.eq(pred.gamma_sum_o), upd_row.count.eq(pred.count_o),
            upd_row.layer.eq(u_layer[:lut.layer_bits]),
            upd_row.last_run.eq(t_done),
            self.npu_cmd.payload.slot.eq(best.slot),
            self.npu_cmd.payload.model.eq(run.model),
            self.npu_cmd.payload.pattern.eq(run.pattern),
            self.npu_cmd.payload.layer.eq(run.layer),
            self.completions.payload.tag.eq(run.tag),
            self.completions.payload.finish.eq(t_done),
        ]
        # the scan pipeline sees the updated row of cur_slot (S1: LUT address, S2: row)
        s1_upd = pending & (s1_slot == cur_slot)
        s2_upd = Signal()
        s1_row = Signal(c.row_layout)
        s2_sel = Signal(c.row_layout)
        m.d.comb += [s1_row.eq(Mux(s1_upd, upd_row, table.rd_data)),
                     s2_sel.eq(Mux(s2_upd, upd_row, s2_row))]
        m.d.sync += s2_upd.eq(s1_upd)
        m.d.comb += [
            score.i.valid.eq(s2_valid),
            score.i.payload.row.eq(s2_sel),
            score.i.payload.var.eq(v_ent),
            score.i.payload.lay.eq(l_ent),
            score.i.payload.payload.slot.eq(s2_slot),
            score.i.payload.payload.row.eq(s2_sel),
        ]
        next_layer = run.layer + 1
        final = (next_layer >= v_ent.n_layers) | (next_layer == lut.max_layers)

        with m.FSM():
            with m.State("IDLE"):
                # table empty: wait for the first request
                m.d.comb += table.allow.eq(1)
                with m.If(self.requests.valid & self.requests.ready):
                    m.d.sync += scan_i.eq(0)
                    m.next = "SCAN"
            with m.State("SCAN"):
                # issue slot scan_i (< n), drain the pipeline, argmin ready at i = n + 5
                m.d.comb += [
                    issuing.eq(scan_i < table.n_active),
                    table.rd_addr.eq(scan_i[:c.slot_bits]),
                    v_rd.addr.eq(var_addr(table.rd_data)),
                    l_rd.addr.eq(lay_addr(s1_row)),
                    argmin.clear.eq(scan_i == 0),
                ]
                with m.If(pending & (scan_i == UPD_WRITE)):
                    # write back the updated entry (intake is blocked in SCAN)
                    m.d.comb += [table.wr_en.eq(1), table.wr_addr.eq(cur_slot),
                                 table.wr_data.eq(upd_row)]
                m.d.sync += scan_i.eq(scan_i + 1)
                with m.If(scan_i == 0):
                    m.d.sync += t_scan.eq(self.now)
                with m.If(scan_i == table.n_active + SCAN_OVERHEAD - 1):
                    m.next = "CMD"
            with m.State("CMD"):
                # present the decision until the NPU takes it
                m.d.comb += [self.npu_cmd.valid.eq(1),
                             v_rd.addr.eq(var_addr(run)), l_rd.addr.eq(lay_addr(run))]
                with m.If(self.npu_cmd.ready):
                    m.next = "RUN"
            with m.State("RUN"):
                # layer in flight: accept requests, wait for the NPU response
                m.d.comb += [table.allow.eq(1), self.npu_resp.ready.eq(1),
                             v_rd.addr.eq(var_addr(run)), l_rd.addr.eq(lay_addr(run))]
                m.d.sync += inv_r.eq(l_ent.inv_nnz)
                with m.If(self.npu_resp.valid):
                    m.d.sync += [nnz_r.eq(self.npu_resp.payload.nnz),
                                 cur_row.eq(run), cur_slot.eq(best.slot),
                                 u_layer.eq(next_layer), t_done.eq(self.now),
                                 pending.eq(~final)]
                    with m.If(final):           # retiring: no predictor update needed
                        m.next = "MOVE"
                    with m.Else():
                        m.next = "PRED"
            with m.State("PRED"):
                # T+1: head start of the predictor pipeline; SCAN from T+RESUME_DELAY
                m.d.sync += scan_i.eq(0)
                m.next = "SCAN"
            with m.State("MOVE"):
                # retiring: read the last entry (it moves into the freed slot in RET)
                m.d.comb += table.rd_addr.eq(table.n_active - 1)
                m.next = "RET"
            with m.State("RET"):
                # completion out; the last entry moves into the freed slot
                m.d.comb += [self.completions.valid.eq(1),
                             table.rd_addr.eq(table.n_active - 1)]
                with m.If(self.completions.ready):
                    m.d.comb += [table.wr_en.eq(1), table.wr_addr.eq(best.slot),
                                 table.wr_data.eq(table.rd_data), table.pop.eq(1)]
                    m.d.sync += scan_i.eq(0)
                    with m.If(table.n_active == 1):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "SCAN"
        return m

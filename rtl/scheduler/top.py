"""The hardware scheduler: task table, LUTs, score pipeline, argmin, predictor, FSM."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F
from sw_scheduler.timing import SCAN_FRONT, resume_delay, scan_overhead

from ..ports import WritePort
from .arith import saturate
from .layouts import LUT_LAYER, LUT_PARAM, LUT_VARIANT, PARAM_BETA, SchedulerConfig
from .policies import score_unit
from .predictor import Predictor
from .score import Argmin
from .table import TaskTable

__all__ = ["DystaScheduler"]

assert SCAN_FRONT == 3     # table read, row register, LUT read (the scan pipeline below)


class DystaScheduler(wiring.Component):
    """Dynamic layer-granularity scheduler, one NPU layer in flight at a time.

    The ranking is ``config.policy``'s score unit (:mod:`rtl.scheduler.policies`; Dysta by
    default); everything else is common to every policy.

    Timing contract (absolute cycles; ``n`` = active requests; ``OH =
    scan_overhead(policy)``, ``RD = resume_delay(policy)``, see docs/scheduler_rtl.md):
    IDLE (empty) accepts a request at ``a`` -> SCAN from ``a+1``. A SCAN starting at ``c``
    ranks every entry with ``t = now(c)`` and presents the command from ``c+n+OH`` until
    ``npu_cmd.ready``. RUN accepts requests and waits for ``npu_resp``; its handshake at
    ``T`` -> POST at ``T+1`` -> SCAN at ``T+RD``, which ranks the entry with its update
    (layer + 1, ``last_run = now(T)``, gamma from the predictor) and writes it back; after
    the last layer, RET at ``T+2`` presents the completion (finish = ``now(T)``) until
    ``completions.ready``, then SCAN (or IDLE if empty), which moves the last entry into the
    freed slot.

    Every handshake ``ready`` the scheduler drives (``requests``, ``lut_w``, ``npu_resp``)
    is a register or a state decode; no input reaches an output combinationally.

    Parameters
    ----------
    config : SchedulerConfig
    images : LutImages or None
        Initial LUT contents (``images.layout`` must equal ``config.lut``); None = zeros,
        to be written through ``lut_w``.

    Members
    -------
    requests : In(stream.Signature(config.request_layout))
        ``ready`` (a register) only in IDLE/RUN and when the table is not full
        (back-pressure).
    completions : Out(stream.Signature(config.completion_layout))
    npu_cmd : Out(stream.Signature(config.command_layout))
    npu_resp : In(stream.Signature(config.response_layout))
        ``ready`` while a command is in flight (RUN).
    lut_w : In(stream.Signature(config.lut_write_layout))
        Run-time write: ``table`` LUT_VARIANT/LUT_LAYER (``addr`` a LutLayout address,
        ``data`` a packed VARIANT_ENTRY/LAYER_ENTRY) or LUT_PARAM (``addr`` PARAM_BETA:
        ``data`` = BETA code). ``ready`` (a register) only in IDLE/RUN, like ``requests``
        but also when the table is full: a write never lands while a SCAN reads the LUTs.
        A word taken in cycle ``k`` is seen by every SCAN starting after ``k``.
    time_w : In(WritePort(time_width))
        Time-base load: in a cycle with ``valid``, ``now`` takes ``payload`` at the edge
        instead of ``now + 1`` (a host synchronising the time base; the system simulation
        jumps over quiet cycles with it). Deadlines and stamps are counter values, so a
        load moves the scheduler's notion of time for every entry alike.
    now : Out(time_width)
        Free-running cycle counter, ``counter_init`` after reset, wraps modulo
        ``2**time_width``.
    n_active : Out(count_width)
    """

    def __init__(self, config: SchedulerConfig, images=None):
        if not isinstance(config, SchedulerConfig):
            raise TypeError(f"config must be a SchedulerConfig, got {config!r}")
        if images is not None:
            config.check_images(images)
        self._cfg = config
        self._images = images
        c = config
        super().__init__({
            "requests": In(stream.Signature(c.request_layout)),
            "completions": Out(stream.Signature(c.completion_layout)),
            "npu_cmd": Out(stream.Signature(c.command_layout)),
            "npu_resp": In(stream.Signature(c.response_layout)),
            "lut_w": In(stream.Signature(c.lut_write_layout)),
            "time_w": In(WritePort(unsigned(c.time_width))),
            "now": Out(c.time_width, init=c.counter_init),
            "n_active": Out(c.count_width),
        })

    @property
    def config(self):
        return self._cfg

    def elaborate(self, platform):
        c, img = self._cfg, self._images
        pol, lut = c.hw_policy, c.lut
        oh, rdelay = scan_overhead(c.policy), resume_delay(pol.gamma)
        row_fields = dict(c.row_layout)
        m = Module()

        with m.If(self.time_w.valid):
            m.d.sync += self.now.eq(self.time_w.payload)
        with m.Else():
            m.d.sync += self.now.eq(self.now + 1)

        # ---- memories; run-time writes (interlocked: ready only in IDLE/RUN) ----
        m.submodules.variant_lut = vmem = memory.Memory(
            shape=unsigned(F.VARIANT_ENTRY.size), depth=lut.variant_depth,
            init=img.variant if img is not None else [])
        m.submodules.layer_lut = lmem = memory.Memory(
            shape=unsigned(F.LAYER_ENTRY.size), depth=lut.layer_depth,
            init=img.layer if img is not None else [])
        m.submodules.recip_rom = rmem = memory.Memory(
            shape=F.RECIP.shape, depth=c.recip_depth, init=F.recip_table(c.recip_depth))
        v_rd, l_rd, r_scan = vmem.read_port(), lmem.read_port(), rmem.read_port()
        n_rd = lmem.read_port() if pol.next_layer else None
        v_wr, l_wr = vmem.write_port(), lmem.write_port()
        lw = self.lut_w.payload
        lut_open = Signal(init=1)       # IDLE after reset
        lut_take = Signal()
        beta = Signal(F.BETA.shape, init=c.beta)
        m.d.comb += [
            self.lut_w.ready.eq(lut_open),
            lut_take.eq(self.lut_w.valid & lut_open),
            v_wr.addr.eq(lw.addr), v_wr.data.eq(lw.data),
            v_wr.en.eq(lut_take & (lw.table == LUT_VARIANT)),
            l_wr.addr.eq(lw.addr), l_wr.data.eq(lw.data),
            l_wr.en.eq(lut_take & (lw.table == LUT_LAYER)),
        ]
        with m.If(lut_take & (lw.table == LUT_PARAM) & (lw.addr == PARAM_BETA)):
            m.d.sync += beta.eq(lw.data[:F.BETA.width])
        v_ent = data.View(F.VARIANT_ENTRY, v_rd.data)
        l_ent = data.View(F.LAYER_ENTRY, l_rd.data)

        # ---- blocks ----
        item = data.StructLayout({"slot": unsigned(c.slot_bits),
                                  "model": unsigned(lut.model_bits),
                                  "pattern": unsigned(lut.pattern_bits),
                                  "layer": unsigned(lut.layer_bits)})
        m.submodules.table = table = TaskTable(c)
        m.submodules.score = score = score_unit(c, item)
        m.submodules.argmin = argmin = Argmin(score_width=c.key_width, payload_shape=item)
        wiring.connect(m, score.o, argmin.i)
        wiring.connect(m, wiring.flipped(self.requests), table.intake)
        n = table.n_active
        take = Signal()
        open_next = Signal()            # intake and LUT writes open in the next cycle
        m.d.comb += [table.now.eq(self.now), self.n_active.eq(n), table.open_next.eq(open_next),
                     take.eq(self.requests.valid & self.requests.ready)]
        m.d.sync += lut_open.eq(open_next)
        best = argmin.best_payload      # the decision: slot and command fields

        def var_addr(r):
            return (r.model << lut.pattern_bits) | r.pattern

        def lay_addr(r, layer=None):
            return (var_addr(r) << lut.layer_bits) | (r.layer if layer is None else layer)

        # ---- the running entry ----
        # The table is read at best.slot during CMD/RUN; its row reaches s2_row (the one
        # register on the table's read data) from the cycle after, and is kept in cur_row
        # at T+1 (POST). nnz, the LAYER/VARIANT words, the time stamps at the response T.
        cur_row, cur_slot = Signal(c.row_layout), Signal(c.slot_bits)
        nnz_r, inv_r = Signal(F.NNZ.shape), Signal(F.INV_NNZ.shape)
        nl_r = Signal.like(v_ent.n_layers)
        t_done, t_scan, run_time = (Signal(c.time_width) for _ in range(3))
        u_layer = Signal(lut.layer_bits + 1)
        m.d.comb += u_layer.eq(cur_row.layer + 1)
        final = ((best.layer + 1 >= nl_r) | (best.layer + 1 == lut.max_layers))

        # ---- the entry a SCAN must see changed (updated, or moved by a retirement) ----
        pend, pend_move, pend_slot = Signal(), Signal(), Signal(c.slot_bits)
        move_row = Signal(c.row_layout)
        upd = Signal(c.row_layout)
        m.d.comb += [upd.eq(cur_row), upd.layer.eq(u_layer[:lut.layer_bits])]
        if "last_run" in row_fields:
            m.d.comb += upd.last_run.eq(t_done)
        if "vstart" in row_fields:       # PREMA: waiting excludes the cycles it ran
            vstart = Signal(c.time_width)
            m.d.sync += vstart.eq(cur_row.vstart + run_time)
            m.d.comb += upd.vstart.eq(vstart)
        if pol.gamma:
            # nnz_r, inv_r registered at T, cur_row at T+1, RECIP[count + 1] from T+3 (the
            # predictor reads the row's fields from its stage 4 on): the updated gamma is
            # a register from T + 1 + PRED_LATENCY.
            m.submodules.predictor = pred = Predictor(variant=c.predictor,
                                                      count_width=lut.layer_bits + 1)
            r_pred = rmem.read_port()
            m.d.comb += [
                pred.nnz.eq(nnz_r), pred.inv_nnz.eq(inv_r),
                pred.gamma.eq(cur_row.gamma), pred.gamma_sum.eq(cur_row.gamma_sum),
                pred.count.eq(cur_row.count), pred.recip.eq(r_pred.data),
                r_pred.addr.eq(cur_row.count + 1),
                upd.gamma.eq(pred.gamma_o), upd.gamma_sum.eq(pred.gamma_sum_o),
                upd.count.eq(pred.count_o),
            ]
        patch = Signal(c.row_layout)
        m.d.comb += [patch.eq(Mux(pend_move, move_row, upd)),
                     # the controller's write: address and data from registers, the FSM
                     # drives only the enable (the table selects by its registered ready)
                     table.wr_addr.eq(pend_slot), table.wr_data.eq(patch)]

        # ---- scan pipeline: S0 table read, S1 row registered, S2 LUT read, S3 score in ----
        scan_i = Signal(range(c.num_slots + oh + 1))
        scan_last = Signal()            # registered: scan_i == n + OH - 1 in this cycle
        issuing = Signal()
        s1_valid, s1_slot = Signal(), Signal(c.slot_bits)
        s2_valid, s2_slot, s2_patch = Signal(), Signal(c.slot_bits), Signal()
        s3_valid, s3_slot, s3_patch = Signal(), Signal(c.slot_bits), Signal()
        s2_row, s3_row = Signal(c.row_layout), Signal(c.row_layout)
        row2, row3 = Signal(c.row_layout), Signal(c.row_layout)
        recip_n = Signal(F.RECIP.shape)
        m.d.sync += [
            s1_valid.eq(issuing), s1_slot.eq(scan_i[:c.slot_bits]),
            s2_valid.eq(s1_valid), s2_slot.eq(s1_slot), s2_row.eq(table.rd_data),
            s2_patch.eq(pend & (s1_slot == pend_slot)),
            s3_valid.eq(s2_valid), s3_slot.eq(s2_slot), s3_row.eq(s2_row),
            s3_patch.eq(s2_patch),
            recip_n.eq(r_scan.data),
        ]
        m.d.comb += [
            row2.eq(Mux(s2_patch, patch, s2_row)),
            row3.eq(Mux(s3_patch, patch, s3_row)),
            r_scan.addr.eq(n),
            score.t.eq(t_scan), score.recip_n.eq(recip_n), score.beta.eq(beta),
            score.i.valid.eq(s3_valid),
            score.i.payload.row.eq(row3),
            score.i.payload.var.eq(v_rd.data),
            score.i.payload.lay.eq(l_rd.data),
            score.i.payload.payload.slot.eq(s3_slot),
            score.i.payload.payload.model.eq(row3.model),
            score.i.payload.payload.pattern.eq(row3.pattern),
            score.i.payload.payload.layer.eq(row3.layer),
            self.npu_cmd.payload.slot.eq(best.slot),
            self.npu_cmd.payload.model.eq(best.model),
            self.npu_cmd.payload.pattern.eq(best.pattern),
            self.npu_cmd.payload.layer.eq(best.layer),
            self.completions.payload.tag.eq(cur_row.tag),
            self.completions.payload.finish.eq(t_done),
        ]
        if n_rd is not None:
            nxt_layer = (row2.layer + 1)[:lut.layer_bits]
            m.d.comb += [n_rd.addr.eq(lay_addr(row2, nxt_layer)),
                         score.i.payload.nxt.eq(n_rd.data)]

        # what the predictor measures: the NPU's output non-zeros, or (busy) the layer's
        # cycles from the command to the response handshake
        t_cmd = Signal(c.time_width)
        if c.predictor == "busy":
            lat = Signal(c.time_width)
            m.d.comb += lat.eq(self.now - t_cmd)
            measured = saturate(lat, F.NNZ.max_int)
        else:
            measured = self.npu_resp.payload.nnz

        wait_i = Signal(range(max(rdelay - 2, 1) + 1))
        with m.FSM():
            with m.State("IDLE"):
                # table empty: wait for the first request
                m.d.comb += open_next.eq(~take)
                with m.If(take):
                    m.d.sync += scan_i.eq(0)
                    m.next = "SCAN"
            with m.State("SCAN"):
                # issue slot scan_i (< n); the decision is in the argmin at i = n + OH
                m.d.comb += [
                    issuing.eq(scan_i < n),
                    table.rd_addr.eq(scan_i[:c.slot_bits]),
                    v_rd.addr.eq(var_addr(row2)), l_rd.addr.eq(lay_addr(row2)),
                    argmin.clear.eq(scan_i == 0),
                ]
                m.d.sync += [scan_i.eq(scan_i + 1), scan_last.eq(scan_i == n + oh - 2)]
                with m.If(scan_i == 0):
                    # s2_row still holds the row read in RET (the last entry, to move)
                    m.d.sync += [t_scan.eq(self.now), move_row.eq(s2_row)]
                with m.If(scan_last):
                    # write the changed entry back (intake is closed)
                    m.d.comb += table.wr_en.eq(pend)
                    m.d.sync += [pend.eq(0), scan_last.eq(0)]
                    m.next = "CMD"
            with m.State("CMD"):
                # present the decision until the NPU takes it; read the entry and its LUTs
                m.d.comb += [self.npu_cmd.valid.eq(1), table.rd_addr.eq(best.slot),
                             v_rd.addr.eq(var_addr(best)), l_rd.addr.eq(lay_addr(best)),
                             open_next.eq(self.npu_cmd.ready)]
                with m.If(self.npu_cmd.ready):
                    m.d.sync += t_cmd.eq(self.now)
                    m.next = "RUN"
            with m.State("RUN"):
                # layer in flight: accept requests, wait for the NPU response
                m.d.comb += [self.npu_resp.ready.eq(1), table.rd_addr.eq(best.slot),
                             v_rd.addr.eq(var_addr(best)), l_rd.addr.eq(lay_addr(best)),
                             open_next.eq(~self.npu_resp.valid)]
                with m.If(self.npu_resp.valid):
                    m.d.sync += [nnz_r.eq(measured), cur_slot.eq(best.slot),
                                 inv_r.eq(l_ent.inv_nnz), nl_r.eq(v_ent.n_layers),
                                 t_done.eq(self.now), run_time.eq(self.now - t_scan)]
                    m.next = "POST"
            with m.State("POST"):
                # T+1: last layer? keep the running row; read the last entry (it may move
                # into the freed slot)
                m.d.comb += table.rd_addr.eq(n - 1)
                m.d.sync += cur_row.eq(s2_row)
                with m.If(final):
                    m.next = "RET"
                with m.Else():
                    m.d.sync += [pend.eq(1), pend_move.eq(0), pend_slot.eq(cur_slot),
                                 scan_i.eq(0), wait_i.eq(rdelay - 3)]
                    m.next = "SCAN" if rdelay == 2 else "PRED"
            if rdelay > 2:
                with m.State("PRED"):
                    # T+2 .. T+RD-1: the predictor's pipeline; SCAN from T+RD
                    m.d.sync += wait_i.eq(wait_i - 1)
                    with m.If(wait_i == 0):
                        m.next = "SCAN"
            with m.State("RET"):
                # completion out; the last entry moves into the freed slot (by the SCAN,
                # which keeps it from s2_row in its first cycle)
                m.d.comb += [self.completions.valid.eq(1), table.rd_addr.eq(n - 1)]
                with m.If(self.completions.ready):
                    m.d.comb += [table.pop.eq(1), open_next.eq(n == 1)]
                    m.d.sync += [pend.eq(cur_slot != n - 1), pend_move.eq(1),
                                 pend_slot.eq(cur_slot), scan_i.eq(0)]
                    with m.If(n == 1):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "SCAN"
        return m

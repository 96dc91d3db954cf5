"""Formal spec of :class:`rtl.scheduler.top.DystaScheduler`'s control, on its public ports.

Environment (assumed): the host offers requests by the stream rule and never offers the
tracked tag ``X`` twice; the NPU answers only a command in flight (any latency, any
``npu_cmd.ready`` stalls) and holds its response until taken; LUT and time-base writes are
free (any contents, any jumps of ``now``). The runner cuts the multipliers (``cutpoint
t:$mul``): scores and gamma become arbitrary values of their widths, which the control must
tolerate, so the properties hold for every policy arithmetic.

Asserted: the three output streams hold ``valid`` and ``payload`` while stalled;
``n_active <= num_slots``; ``requests.ready`` implies not full; accepted - completed =
``n_active``; no command while one is in flight, and its slot is below ``n_active``;
``npu_resp.ready`` only while a command is in flight; a completion only with
``n_active > 0`` and no command in flight; a completion's tag ``X`` was accepted and is
completed at most once.
"""

from __future__ import annotations

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cover, Module, Signal

from sw_scheduler import formats as F

from ..scheduler.layouts import SchedulerConfig
from ..scheduler.top import DystaScheduler
from .props import Spec, any_seq, assert_stream_source, assume_stream_source, no_reset
from .table import small_config

__all__ = ["SchedulerSpec"]

COUNT_WIDTH = 8      # accepted / completed counters (the depth stays far below 2**8)


class SchedulerSpec(Spec):
    """Parameters: ``config`` (default :func:`rtl.formal.table.small_config`), ``dut``
    (factory ``config -> DystaScheduler``)."""

    def __init__(self, *, config: SchedulerConfig | None = None, dut=None):
        self._cfg = config or small_config()
        self._dut = dut or (lambda cfg: DystaScheduler(cfg, None))
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        m.submodules.dut = dut = self._dut(c)
        no_reset(m)
        n = dut.n_active

        # ---- environment ----
        assume_stream_source(m, dut.requests, "requests")
        assume_stream_source(m, dut.npu_resp, "npu_resp")
        for s in (dut.npu_cmd.ready, dut.completions.ready, dut.lut_w.valid,
                  dut.lut_w.payload, dut.time_w.valid, dut.time_w.payload):
            any_seq(m, s)
        cmd_go = dut.npu_cmd.valid & dut.npu_cmd.ready
        resp_go = dut.npu_resp.valid & dut.npu_resp.ready
        req_go = dut.requests.valid & dut.requests.ready
        done_go = dut.completions.valid & dut.completions.ready
        in_flight = Signal()             # a command taken by the NPU, not yet answered
        with m.If(cmd_go):
            m.d.sync += in_flight.eq(1)
        with m.Elif(resp_go):
            m.d.sync += in_flight.eq(0)
        m.d.comb += Assume(~dut.npu_resp.valid | in_flight)

        accepted, completed = Signal(COUNT_WIDTH), Signal(COUNT_WIDTH)
        m.d.sync += [accepted.eq(accepted + req_go), completed.eq(completed + done_go)]
        m.d.comb += Assume(accepted != (1 << COUNT_WIDTH) - 1)

        x = Signal(F.TAG_WIDTH)
        m.d.comb += x.eq(AnyConst(F.TAG_WIDTH))
        x_in, x_out = Signal(), Signal()
        m.d.comb += Assume(~(req_go & (dut.requests.payload.tag == x) & x_in))
        with m.If(req_go & (dut.requests.payload.tag == x)):
            m.d.sync += x_in.eq(1)
        with m.If(done_go & (dut.completions.payload.tag == x)):
            m.d.sync += x_out.eq(1)

        # ---- the scheduler's contract ----
        assert_stream_source(m, dut.completions, "completions")
        assert_stream_source(m, dut.npu_cmd, "npu_cmd")
        m.d.comb += [
            Assert(n <= c.num_slots, "n_active <= num_slots"),
            Assert(~dut.requests.ready | (n < c.num_slots), "requests.ready implies not full"),
            Assert((accepted - completed)[:COUNT_WIDTH] == n,
                   "accepted - completed == n_active"),
            Assert(~(dut.npu_cmd.valid & in_flight), "no command while one is in flight"),
            Assert(~dut.npu_resp.ready | in_flight, "npu_resp.ready only with a command out"),
            Assert(~dut.completions.valid | (n > 0), "a completion implies n_active > 0"),
            Assert(~(dut.completions.valid & in_flight), "no completion while a layer runs"),
        ]
        with m.If(dut.npu_cmd.valid):
            m.d.comb += Assert(dut.npu_cmd.payload.slot < n, "command slot below n_active")
        with m.If(done_go & (dut.completions.payload.tag == x)):
            m.d.comb += [Assert(x_in, "a completed tag was accepted"),
                         Assert(~x_out, "a request completes once")]

        # ---- reachable ----
        later_layer = Signal()
        with m.If(cmd_go & (dut.npu_cmd.payload.layer != 0)):
            m.d.sync += later_layer.eq(1)
        m.d.comb += [
            Cover(completed == 2),                                # two full lifetimes
            Cover(later_layer & (completed == 1)),                # a multi-layer request
            Cover((n == c.num_slots) & dut.requests.valid),       # full, holding off
            Cover(done_go & (n == 2)),                            # retire with one left
        ]
        return m

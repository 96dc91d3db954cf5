"""Task table: request intake with back-pressure, sync-read rows, update writes, compaction."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F

from .layouts import SchedulerConfig

__all__ = ["TaskTable"]


class TaskTable(wiring.Component):
    """``num_slots`` request entries kept compact in slots ``0 .. n_active-1``.

    Parameters
    ----------
    config : SchedulerConfig

    Members
    -------
    intake : In(stream.Signature(config.request_layout))
        New requests. ``ready = allow & ~full & ~wr_en``; an accepted request is written
        at slot ``n_active`` (gamma 1.0, layer 0, ``last_run = now``) and ``n_active``
        increments at the end of the cycle. Never dropped: held off while full.
    now : In(time_width)
        Cycle counter (arrival stamp).
    allow : In(1)
        The controller permits intake in this cycle.
    rd_addr : In(slot_bits); rd_data : Out(row_layout)
        Synchronous read: ``rd_data`` in cycle ``c+1`` is the row at ``rd_addr`` of cycle
        ``c`` as written before ``c`` (not transparent).
    wr_en, wr_addr, wr_data : In
        Controller write (update / compaction move); has priority over intake.
    pop : In(1)
        ``n_active`` decrements at the end of the cycle (the retiring slot has already
        been, or is being, overwritten by the last row by the controller).
    n_active : Out(count_width); full : Out(1)
    """

    def __init__(self, config: SchedulerConfig):
        if not isinstance(config, SchedulerConfig):
            raise TypeError(f"config must be a SchedulerConfig, got {config!r}")
        self._cfg = config
        c = config
        super().__init__({
            "intake": In(stream.Signature(c.request_layout)),
            "now": In(c.time_width),
            "allow": In(1),
            "rd_addr": In(c.slot_bits),
            "rd_data": Out(c.row_layout),
            "wr_en": In(1),
            "wr_addr": In(c.slot_bits),
            "wr_data": In(c.row_layout),
            "pop": In(1),
            "n_active": Out(c.count_width),
            "full": Out(1),
        })

    @property
    def config(self):
        return self._cfg

    def elaborate(self, platform):
        c = self._cfg
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=c.row_layout, depth=c.num_slots, init=[])
        rd = mem.read_port(domain="sync")
        wr = mem.write_port(domain="sync")

        n = Signal(c.count_width)
        m.d.comb += [
            self.n_active.eq(n),
            self.full.eq(n == c.num_slots),
            rd.addr.eq(self.rd_addr),
            self.rd_data.eq(rd.data),
            self.intake.ready.eq(self.allow & ~self.full & ~self.wr_en),
        ]
        take = Signal()
        m.d.comb += take.eq(self.intake.valid & self.intake.ready)
        req = self.intake.payload
        new_row = Signal(c.row_layout)
        m.d.comb += [
            new_row.tag.eq(req.tag), new_row.model.eq(req.model),
            new_row.pattern.eq(req.pattern), new_row.priority.eq(req.priority),
            new_row.deadline.eq(req.deadline), new_row.last_run.eq(self.now),
            new_row.layer.eq(0), new_row.gamma.eq(1 << F.GAMMA.frac),
            new_row.gamma_sum.eq(0), new_row.count.eq(0),
        ]
        with m.If(self.wr_en):
            m.d.comb += [wr.en.eq(1), wr.addr.eq(self.wr_addr), wr.data.eq(self.wr_data)]
        with m.Elif(take):
            m.d.comb += [wr.en.eq(1), wr.addr.eq(n[:c.slot_bits]), wr.data.eq(new_row)]
        m.d.sync += n.eq(n + take - self.pop)
        return m

"""Task table: request intake with a registered ``ready``, sync-read rows, controller writes,
compaction."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
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
        New requests. ``ready`` is a register: high in a cycle iff the controller said so
        (``open_next``) in the cycle before and the table is not full in this one. An
        accepted request is written at slot ``n_active`` (layer 0, gamma 1.0, ``arrival`` =
        ``last_run`` = ``vstart`` = ``now``) and ``n_active`` increments at the end of the
        cycle. Never dropped: held off while full.
    now : In(time_width)
        Cycle counter (acceptance stamp).
    open_next : In(1)
        The controller accepts requests in the next cycle (if the table has room then).
    rd_addr : In(slot_bits); rd_data : Out(row_layout)
        Synchronous read: ``rd_data`` in cycle ``c+1`` is the row at ``rd_addr`` of cycle
        ``c`` as written before ``c`` (not transparent).
    wr_en, wr_addr, wr_data : In
        Controller write (update / compaction move); only while ``ready`` is low.
    pop : In(1)
        ``n_active`` decrements at the end of the cycle (the retiring slot is overwritten by
        the controller).
    n_active : Out(count_width)
    """

    def __init__(self, config: SchedulerConfig):
        if not isinstance(config, SchedulerConfig):
            raise TypeError(f"config must be a SchedulerConfig, got {config!r}")
        self._cfg = config
        c = config
        super().__init__({
            "intake": In(stream.Signature(c.request_layout)),
            "now": In(c.time_width),
            "open_next": In(1),
            "rd_addr": In(c.slot_bits),
            "rd_data": Out(c.row_layout),
            "wr_en": In(1),
            "wr_addr": In(c.slot_bits),
            "wr_data": In(c.row_layout),
            "pop": In(1),
            "n_active": Out(c.count_width),
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
        ready = Signal(init=1)                  # IDLE and empty after reset
        take = Signal()
        n_next = Signal(c.count_width)
        m.d.comb += [
            self.n_active.eq(n),
            rd.addr.eq(self.rd_addr),
            self.rd_data.eq(rd.data),
            self.intake.ready.eq(ready),
            take.eq(self.intake.valid & ready),
            n_next.eq(n + take - self.pop),
        ]
        m.d.sync += [n.eq(n_next), ready.eq(self.open_next & ~n_next[c.slot_bits])]
        req = self.intake.payload
        new_row = Signal(c.row_layout)
        fields = dict(c.row_layout)
        m.d.comb += [new_row.tag.eq(req.tag), new_row.model.eq(req.model),
                     new_row.pattern.eq(req.pattern), new_row.layer.eq(0)]
        for name in ("priority", "deadline"):
            if name in fields:
                m.d.comb += getattr(new_row, name).eq(getattr(req, name))
        for name in ("arrival", "last_run", "vstart"):
            if name in fields:
                m.d.comb += getattr(new_row, name).eq(self.now)
        if "gamma" in fields:
            m.d.comb += new_row.gamma.eq(1 << F.GAMMA.frac)
        # the controller writes only while intake is closed: the registered ``ready``
        # selects whose address and data reach the memory
        m.d.comb += [
            wr.en.eq(self.wr_en | take),
            wr.addr.eq(Mux(ready, n[:c.slot_bits], self.wr_addr)),
            wr.data.eq(Mux(ready, new_row, self.wr_data)),
        ]
        return m

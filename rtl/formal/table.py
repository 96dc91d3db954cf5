"""Formal spec of :class:`rtl.scheduler.table.TaskTable`: back-pressure instead of drops,
a registered intake ``ready``, intake at slot ``n_active``, compaction on retire.

The controller side follows the scheduler's use of the table (assumed; ``top.py`` and
docs/scheduler_rtl.md): it writes and pops only while intake is closed (``ready`` low),
never both in one cycle; an update writes a slot below ``n_active`` and keeps its
request; a retire pops (``n_active - 1``) and, if the retiring slot was not the last, a
*hole* is left that the controller's next write fills with the row of the old last slot
(the SCAN's patch), keeping intake closed and popping nothing until then. The table never
looks into a row's fields, so one marked request (the only one offered with tag bit 0
set) stands for any: the spec keeps its slot ``pos`` and asserts that every read below
``n_active`` shows the mark exactly at ``pos`` - from the intake until the retire,
through the moves of compaction (nothing lost, nothing duplicated) - and that an intake
writes the new row (fields, layer 0, gamma 1.0, time stamps = ``now``) at slot
``n_active``, that ``ready`` is exactly ``open_next`` of the previous cycle and room in
this one, and that nothing is taken while the table is full.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Cover, Module, Signal

from sw_scheduler import formats as F

from ..scheduler.layouts import SchedulerConfig
from ..scheduler.table import TaskTable
from .props import Spec, any_seq, assume_stream_source, no_reset

__all__ = ["TaskTableSpec", "small_config"]


def small_config(**kw) -> SchedulerConfig:
    """The configuration the formal checks use: 4 slots, 8-bit time, a small LUT layout."""
    return SchedulerConfig(lut=F.LutLayout(model_bits=1, pattern_bits=1, layer_bits=2),
                           num_slots=kw.pop("num_slots", 4),
                           time_width=kw.pop("time_width", 8), **kw)


class TaskTableSpec(Spec):
    """Parameters: ``config`` (default :func:`small_config`), ``dut`` (factory
    ``config -> TaskTable``; a test passes a mutated one)."""

    def __init__(self, *, config: SchedulerConfig | None = None, dut=None):
        self._cfg = config or small_config()
        self._dut = dut or TaskTable
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        m.submodules.dut = dut = self._dut(c)
        no_reset(m)
        assume_stream_source(m, dut.intake, "intake")
        ret_slot = Signal(c.slot_bits)          # the slot a pop retires (the controller's)
        for s in (dut.now, dut.open_next, dut.rd_addr, dut.wr_en, dut.wr_addr, dut.wr_data,
                  dut.pop, ret_slot):
            any_seq(m, s)
        n = dut.n_active
        ready = dut.intake.ready
        take = dut.intake.valid & ready

        # ---- the marked request X: the only one offered with tag bit 0 set ----
        req = dut.intake.payload
        marked = req.tag[0]
        present, offered, gone = Signal(), Signal(), Signal()
        pos = Signal(c.slot_bits)
        hole, hole_slot, hole_x = Signal(), Signal(c.slot_bits), Signal()
        m.d.comb += Assume(~(take & marked & offered))
        with m.If(take & marked):
            m.d.sync += [offered.eq(1), present.eq(1), pos.eq(n)]
        with m.If(dut.pop):
            with m.If(present & (ret_slot == pos)):
                m.d.sync += [present.eq(0), gone.eq(1)]              # X retires
            with m.If(ret_slot != n - 1):                           # the last row moves
                m.d.sync += [hole.eq(1), hole_slot.eq(ret_slot),
                             hole_x.eq(present & (pos == n - 1))]
                with m.If(present & (pos == n - 1)):
                    m.d.sync += pos.eq(ret_slot)
        moved = Signal()                                            # X was moved and written
        with m.If(dut.wr_en & hole):
            m.d.sync += [hole.eq(0), hole_x.eq(0)]
            with m.If(hole_x):
                m.d.sync += moved.eq(1)

        # ---- the controller's contract ----
        prev_open, prev_n = Signal(init=1), Signal(c.count_width)   # IDLE after reset
        m.d.sync += [prev_open.eq(dut.open_next), prev_n.eq(n)]
        m.d.comb += [
            Assume(~(dut.wr_en & ready)),
            Assume(~(dut.pop & (ready | dut.wr_en | hole))),
            Assume(~(hole & dut.open_next)),
        ]
        with m.If(dut.pop):
            m.d.comb += [Assume(n > 0), Assume(ret_slot < n)]
        with m.If(dut.wr_en):
            m.d.comb += Assume(dut.wr_addr < n)
            with m.If(hole):             # the move: the old last row into the freed slot
                m.d.comb += [Assume(dut.wr_addr == hole_slot),
                             Assume(dut.wr_data.tag[0] == hole_x)]
            with m.Else():               # update: the slot keeps its request (its tag)
                m.d.comb += Assume(dut.wr_data.tag[0] == (present & (dut.wr_addr == pos)))

        # ---- the table's contract ----
        full = n == c.num_slots
        m.d.comb += [
            Assert(n <= c.num_slots, "n_active <= num_slots"),
            Assert(~(ready & full), "no intake while full (back-pressure)"),
            Assert(~ready | prev_open, "intake only when the controller opened it"),
            Assert(ready | ~prev_open | full, "intake open when opened and not full"),
        ]
        grew, popped = Signal(), Signal()
        m.d.sync += [grew.eq(take), popped.eq(dut.pop)]
        m.d.comb += Assert(n == (prev_n + grew - popped)[:c.count_width],
                           "n_active counts intakes and pops")
        with m.If(present):
            m.d.comb += Assert(pos < n, "a present request sits below n_active")
        # every read below n_active (except the hole) returns X's row exactly at X's slot:
        # nothing lost, nothing duplicated (one marked row stands for any)
        rd_live, rd_pos = Signal(), Signal()
        m.d.sync += [rd_pos.eq(present & (dut.rd_addr == pos)),
                     rd_live.eq((dut.rd_addr < n)
                                & ~(hole & (dut.rd_addr == hole_slot))
                                & ~(dut.wr_en & (dut.wr_addr == dut.rd_addr)))]
        with m.If(rd_live):
            m.d.comb += Assert(dut.rd_data.tag[0] == rd_pos, "X's row is at X's slot only")
        # a new row: the request's fields, layer 0, gamma 1.0, no ratios, stamps = now
        new = Signal(c.row_layout)
        fields = dict(c.row_layout)
        m.d.comb += [new.tag.eq(req.tag), new.model.eq(req.model),
                     new.pattern.eq(req.pattern), new.layer.eq(0)]
        for name in ("priority", "deadline"):
            if name in fields:
                m.d.comb += getattr(new, name).eq(getattr(req, name))
        for name in ("arrival", "last_run", "vstart"):
            if name in fields:
                m.d.comb += getattr(new, name).eq(dut.now)
        if "gamma" in fields:
            m.d.comb += new.gamma.eq(1 << F.GAMMA.frac)
        t1, t2, t1_row, t2_row = Signal(), Signal(), Signal(c.row_layout), Signal(c.row_layout)
        m.d.sync += [t1.eq(take), t1_row.eq(new), t2_row.eq(t1_row),
                     t2.eq(t1 & (dut.rd_addr == n - 1) & ~dut.wr_en)]
        with m.If(t2):
            m.d.comb += Assert(dut.rd_data.as_value() == t2_row.as_value(),
                               "an intake writes the new row at slot n_active")

        # reachable: full and holding off; X moved by compaction and read back; X retired
        m.d.comb += [
            Cover(full & dut.intake.valid & prev_open),
            Cover(moved & rd_live & rd_pos),
            Cover(gone & (n == 0)),
            Cover(t2),
        ]
        return m

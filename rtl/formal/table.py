"""Formal spec of :class:`rtl.scheduler.table.TaskTable`: back-pressure instead of drops,
intake at slot ``n_active``, compaction on retire.

The controller side follows the scheduler's contract (assumed): a write goes to a slot
below ``n_active``; an update keeps the slot's request; a retire writes the row it read
from slot ``n_active - 1`` in the previous cycle (no write then) into the retiring slot and
pops. The table never looks into a row's fields, so one marked request (the only one
offered with tag bit 0 set) stands for any: the spec keeps its slot ``pos`` and asserts
that every read below ``n_active`` shows the mark exactly at ``pos`` - from the intake
until the retire, through the moves of compaction (nothing lost, nothing duplicated) - and
that an intake writes the new row (fields, layer 0, gamma 1.0, ``last_run = now``) at slot
``n_active``, and that nothing is taken while the table is full.
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
        for s in (dut.now, dut.allow, dut.rd_addr, dut.wr_en, dut.wr_addr, dut.wr_data,
                  dut.pop):
            any_seq(m, s)
        n = dut.n_active
        take = dut.intake.valid & dut.intake.ready

        # ---- the marked request X: the only one offered with tag bit 0 set ----
        req = dut.intake.payload
        marked = req.tag[0]
        present, offered, gone = Signal(), Signal(), Signal()
        pos = Signal(c.slot_bits)
        m.d.comb += Assume(~(take & marked & offered))
        with m.If(take & marked):
            m.d.sync += [offered.eq(1), present.eq(1), pos.eq(n)]
        with m.If(present & dut.wr_en & dut.pop):
            with m.If(dut.wr_addr == pos):
                m.d.sync += [present.eq(0), gone.eq(1)]              # X retires
            with m.Elif(pos == n - 1):
                m.d.sync += pos.eq(dut.wr_addr)                      # X moves (compaction)

        # ---- the controller's contract ----
        prev_rd, prev_n, prev_wr = Signal(c.slot_bits), Signal(c.count_width), Signal()
        m.d.sync += [prev_rd.eq(dut.rd_addr), prev_n.eq(n), prev_wr.eq(dut.wr_en)]
        m.d.comb += Assume(~dut.pop | dut.wr_en)
        with m.If(dut.wr_en):
            m.d.comb += Assume(dut.wr_addr < n)
            with m.If(dut.pop):          # retire: the last row moves into the freed slot
                m.d.comb += [Assume(prev_rd == n - 1), Assume(prev_n == n), Assume(~prev_wr),
                             Assume(dut.wr_data.tag[0] == dut.rd_data.tag[0])]
            with m.Else():               # update: the slot keeps its request (its tag)
                m.d.comb += Assume(dut.wr_data.tag[0] == (present & (dut.wr_addr == pos)))

        # ---- the table's contract ----
        m.d.comb += [
            Assert(n <= c.num_slots, "n_active <= num_slots"),
            Assert(dut.full == (n == c.num_slots), "full iff n_active == num_slots"),
            Assert(~(dut.intake.ready & dut.full), "no intake while full (back-pressure)"),
            Assert(~(dut.intake.ready & dut.wr_en), "a controller write blocks intake"),
        ]
        grew = Signal()
        m.d.sync += grew.eq(take)
        popped = Signal()
        m.d.sync += popped.eq(dut.pop)
        m.d.comb += Assert(n == (prev_n + grew - popped)[:c.count_width],
                           "n_active counts intakes and pops")
        with m.If(present):
            m.d.comb += Assert(pos < n, "a present request sits below n_active")
        # every read below n_active returns X's row exactly at X's slot: nothing lost, nothing
        # duplicated (the table never looks into rows, so one marked row stands for any)
        rd_live, rd_pos = Signal(), Signal()
        m.d.sync += [rd_pos.eq(present & (dut.rd_addr == pos)),
                     rd_live.eq((dut.rd_addr < n) & ~(dut.wr_en & (dut.wr_addr == dut.rd_addr)))]
        with m.If(rd_live):
            m.d.comb += Assert(dut.rd_data.tag[0] == rd_pos, "X's row is at X's slot only")
        # a new row: the request's fields, layer 0, gamma 1.0, no ratios, last_run = now
        new = Signal(c.row_layout)
        m.d.comb += [
            new.tag.eq(req.tag), new.model.eq(req.model), new.pattern.eq(req.pattern),
            new.priority.eq(req.priority), new.deadline.eq(req.deadline),
            new.last_run.eq(dut.now), new.layer.eq(0), new.gamma.eq(1 << F.GAMMA.frac),
            new.gamma_sum.eq(0), new.count.eq(0),
        ]
        t1, t2, t1_row, t2_row = Signal(), Signal(), Signal(c.row_layout), Signal(c.row_layout)
        m.d.sync += [t1.eq(take), t1_row.eq(new), t2_row.eq(t1_row),
                     t2.eq(t1 & (dut.rd_addr == n - 1) & ~dut.wr_en)]
        with m.If(t2):
            m.d.comb += Assert(dut.rd_data.as_value() == t2_row.as_value(),
                               "an intake writes the new row at slot n_active")

        # reachable: full and holding off; X moved by compaction and read back; X retired
        moved = Signal()
        with m.If(present & dut.wr_en & dut.pop & (dut.wr_addr != pos) & (pos == n - 1)):
            m.d.sync += moved.eq(1)
        m.d.comb += [
            Cover(dut.full & dut.intake.valid & dut.allow),
            Cover(moved & rd_live & rd_pos),
            Cover(gone & (n == 0)),
            Cover(t2),
        ]
        return m

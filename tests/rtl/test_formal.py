"""Formal checks in the test suite: short bounded runs of every spec (``make formal`` runs
them deeper, with covers), and seeded bugs that the properties must catch."""

import pytest
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory

from rtl.formal import run
from rtl.formal.argmin import ArgminSpec
from rtl.formal.table import TaskTableSpec
from rtl.scheduler.score import Argmin
from rtl.scheduler.table import TaskTable
from sw_scheduler import formats as F


def check(name, tmp_path, *, tasks=("bmc",), depth=None, spec=None):
    c = run.CHECKS[name]
    return run.run_check(c, tmp_path, depth=depth or c.quick_depth,
                         cover_depth=c.quick_cover_depth, tasks=tasks, spec=spec,
                         sequential=True, timeout=600)


@pytest.mark.parametrize("name,tasks", [("argmin", ("bmc", "cover")),
                                        ("table", ("bmc", "cover")),
                                        ("scheduler", ("bmc",)),
                                        ("scheduler_fcfs", ("bmc",))])
def test_bounded_check_passes(name, tasks, tmp_path):
    out = check(name, tmp_path, tasks=tasks)
    assert out.status == {t: "PASS" for t in tasks}, (out.status, out.failed, out.unreached)
    assert not out.failed
    if "cover" in tasks:
        assert out.reached and not out.unreached


class TieKeepsLaterArgmin(Argmin):
    """Seeded bug: ``<=`` instead of ``<`` (a tie replaces the best)."""

    def elaborate(self, platform):
        m = Module()
        better = self.clear | ~self.best_valid | (self.i.payload.score <= self.best_score)
        with m.If(self.i.valid & better):
            m.d.sync += [self.best_valid.eq(1), self.best_score.eq(self.i.payload.score),
                         self.best_payload.eq(self.i.payload.payload)]
        with m.Elif(self.clear):
            m.d.sync += self.best_valid.eq(0)
        return m


class TakesWhenFullTable(TaskTable):
    """Seeded bug: the registered ``ready`` tests ``n_next <= num_slots`` (an off-by-one
    full test); otherwise the table of rtl.scheduler.table."""

    def elaborate(self, platform):
        c = self.config
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=c.row_layout, depth=c.num_slots, init=[])
        rd, wr = mem.read_port(domain="sync"), mem.write_port(domain="sync")
        n, n_next = Signal(c.count_width), Signal(c.count_width)
        ready = Signal(init=1)
        take = Signal()
        m.d.comb += [self.n_active.eq(n), rd.addr.eq(self.rd_addr), self.rd_data.eq(rd.data),
                     self.intake.ready.eq(ready), take.eq(self.intake.valid & ready),
                     n_next.eq(n + take - self.pop)]
        m.d.sync += [n.eq(n_next), ready.eq(self.open_next & (n_next <= c.num_slots))]
        req = self.intake.payload
        new_row = Signal(c.row_layout)
        m.d.comb += [new_row.tag.eq(req.tag), new_row.model.eq(req.model),
                     new_row.pattern.eq(req.pattern), new_row.deadline.eq(req.deadline),
                     new_row.last_run.eq(self.now), new_row.gamma.eq(1 << F.GAMMA.frac),
                     wr.en.eq(self.wr_en | take),
                     wr.addr.eq(Mux(ready, n[:c.slot_bits], self.wr_addr)),
                     wr.data.eq(Mux(ready, new_row, self.wr_data))]
        return m


def test_seeded_argmin_bug_is_caught(tmp_path):
    spec = ArgminSpec(dut=lambda sw, ps: TieKeepsLaterArgmin(score_width=sw, payload_shape=ps))
    out = check("argmin", tmp_path, spec=spec)
    assert out.status["bmc"] == "FAIL"
    assert any("a tie keeps the earlier entry" in src for _, src, _ in out.failed), out.failed


def test_seeded_table_bug_is_caught(tmp_path):
    out = check("table", tmp_path, spec=TaskTableSpec(dut=TakesWhenFullTable))
    assert out.status["bmc"] == "FAIL"
    (_loc, src, step), = out.failed
    assert "no intake while full" in src and step <= run.CHECKS["table"].quick_depth


def test_runner_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        run.main(["--only", "nope"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(["--depth", "0"])
    assert "--depth must be >= 1" in capsys.readouterr().err

"""Hardware scheduling policies, RTL half of the policy seam.

``SCORE_UNITS[name]`` builds the score unit of policy ``name`` (the key of its bit-exact
half in :data:`sw_scheduler.hw_policies.HW_POLICIES`); every unit is a
:class:`~rtl.scheduler.score.ScoreUnit` (:func:`~rtl.scheduler.score.score_signature`,
``SCORE_LATENCIES[name]`` stages). The scheduler instantiates
``SCORE_UNITS[config.policy]``. Adding a policy: its bit-exact key there, its unit here,
its depth in :mod:`sw_scheduler.timing`, its float reference in
:mod:`sw_scheduler.reference`, tests.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned
from amaranth.lib import memory

from sw_scheduler import formats as F
from sw_scheduler.hw_policies import DIV_FRAC, DIV_INDEX_BITS, SDRM3_WIDTH, div_table

from .arith import delay, msb_index, mul, reg, saturate, saturate_shift
from .score import DystaScoreUnit, ScoreUnit

__all__ = ["DIV_LATENCY", "SCORE_UNITS", "score_unit"]


class FcfsScoreUnit(ScoreUnit):
    """FCFS: the acceptance stamp's age (older = smaller key). 1 stage."""

    policy = "fcfs"

    def key(self, m):
        return reg(m, self.older(m, self.i.payload.row.arrival), "key")


class EdfScoreUnit(ScoreUnit):
    """EDF: the deadline relative to ``t``. 1 stage."""

    policy = "edf"

    def key(self, m):
        return reg(m, self.deadline_key(m, self.i.payload.row.deadline), "key")


class SjfScoreUnit(ScoreUnit):
    """SJF: REM, then the deadline (concatenated). 1 stage."""

    policy = "sjf"

    def key(self, m):
        p = self.i.payload
        return reg(m, Cat(self.deadline_key(m, p.row.deadline), p.lay.rem), "key")


class SjfSparseScoreUnit(ScoreUnit):
    """SJF-sparse: ``gamma * REM`` (stages 2-3), then the deadline. 4 stages."""

    policy = "sjf-sparse"

    def key(self, m):
        p = self.i.payload
        gamma, rem = reg(m, p.row.gamma, "gamma"), reg(m, p.lay.rem, "rem")
        dk = reg(m, self.deadline_key(m, p.row.deadline), "dk")
        prem = mul(m, gamma, rem, name="prem", latency=2)
        est = saturate_shift(prem, F.GAMMA.frac, F.REM.width)
        return reg(m, Cat(delay(m, dk, 2, "dk"), est), "key")


class _Prema(ScoreUnit):
    """PREMA: token level from ``(t - vstart) * KINV_ISO`` against ``2 kappa``/``8 kappa``
    (stages 2-4 the product, 5 the compares), then REM (``* gamma`` if sparse), then age.
    5 stages."""

    sparse = False

    def key(self, m):
        c, p = self._cfg, self.i.payload
        kinv, rem = reg(m, p.var.kinv_iso, "kinv"), reg(m, p.lay.rem, "rem")
        prio = reg(m, p.row.priority, "prio")
        wait = reg(m, self.wait(m, p.row.vstart), "wait")
        tie = reg(m, self.older(m, p.row.arrival), "tie")
        prod = mul(m, wait, kinv, name="ptok", latency=3)            # in 5
        if self.sparse:
            gamma = reg(m, p.row.gamma, "gamma")
            prem = mul(m, gamma, rem, name="prem", latency=2)       # in 4
            est = reg(m, saturate_shift(prem, F.GAMMA.frac, F.REM.width), "est")
        else:
            est = delay(m, rem, 3, "est")
        prio = delay(m, prio, 3, "prio")
        lo = prod >= (2 * c.kappa) << F.KINV_ISO.frac
        hi = prod >= (8 * c.kappa) << F.KINV_ISO.frac
        # 2 - level: priority 9 -> 0; 3 -> 0 if lo else 1; 1 -> 0 if hi, 1 if lo, else 2
        rank = Mux(prio >= 2, 0, Mux(prio == 1, Mux(lo, 0, 1), Mux(hi, 0, Mux(lo, 1, 2))))
        return reg(m, Cat(delay(m, tie, 3, "tie"), est, rank[:2]), "key")


class PremaScoreUnit(_Prema):
    policy = "prema"


class PremaSparseScoreUnit(_Prema):
    policy = "prema-sparse"
    sparse = True


class PlanariaScoreUnit(ScoreUnit):
    """Planaria: ``max(deadline - t - REM, 1) * 9 / priority`` (2: slack, 3: times 1/3/9),
    then age. 3 stages."""

    policy = "planaria"

    def key(self, m):
        tw, p = self._cfg.time_width, self.i.payload
        dt = reg(m, self.dt(m, p.row.deadline), "dt")
        rem, prio = reg(m, p.lay.rem, "rem"), reg(m, p.row.priority, "prio")
        tie = reg(m, self.older(m, p.row.arrival), "tie")
        slack = Signal(signed(max(tw, F.REM.width + 1) + 1), name="slack")
        m.d.comb += slack.eq(dt - rem)
        s = reg(m, Mux(slack < 1, 1, slack[:tw - 1]), "s", unsigned(tw - 1))
        prio = delay(m, prio, 1, "prio")
        hi = Signal(tw + 3, name="hi")
        m.d.comb += hi.eq(s + Mux(prio == 0, s << 3, Mux(prio == 1, s << 1, 0)))
        return reg(m, Cat(delay(m, tie, 1, "tie"), hi), "key")


DIV_LATENCY = 8


def qdiv(m, rom, a, b, width: int, name: str):
    """:func:`sw_scheduler.hw_policies.qdiv` of registers ``a``, ``b`` (``b >= 1``),
    available ``DIV_LATENCY`` stages later. 1: leading one; 2: normalise, table index;
    3-4: table read (registered); 5-6: ``a * table``; 7: ``>> (e + 1)``; 8: saturation."""
    k = DIV_INDEX_BITS
    bw = 1 << max(len(b) - 1, 1).bit_length()            # b padded to a power of two
    _, e = msb_index(b)
    e1 = reg(m, e, f"{name}_e", unsigned(len(e)))
    b1 = reg(m, b, f"{name}_b")
    a1 = reg(m, a, f"{name}_a")
    norm = Signal(bw + k, name=f"{name}_norm")           # b with its leading one at bit bw-1
    m.d.comb += norm.eq(Cat(Const(0, k), b1) >> e1)
    idx = reg(m, norm[:k], f"{name}_idx")
    rd = rom.read_port()
    m.d.comb += rd.addr.eq(idx)
    e3, a3 = delay(m, e1, 2, f"{name}_e"), delay(m, a1, 2, f"{name}_a")
    r = reg(m, rd.data, f"{name}_r")
    prod = mul(m, delay(m, a3, 1, f"{name}_a"), r, name=f"{name}_p", latency=2)
    e6 = delay(m, e3, 3, f"{name}_e")
    sh = reg(m, prod >> (e6 + 1), f"{name}_sh", unsigned(len(prod)))
    return reg(m, saturate(sh, (1 << width) - 1), f"{name}_q", unsigned(width))


class _Sdrm3(ScoreUnit):
    """SDRM3 (alpha = 1): ``min(1, REM / (deadline - t)) + (t - last_run) / step`` with
    ``step = REM[l] - REM[l+1]`` (``* gamma`` if sparse), both by :func:`qdiv`; key = its
    complement, then age. 11 stages (sparse: 14)."""

    sparse = False

    def key(self, m):
        tw, p = self._cfg.time_width, self.i.payload
        m.submodules.div_rom = rom = memory.Memory(shape=unsigned(18), depth=1 << DIV_INDEX_BITS,
                                                   init=div_table())
        rem, nrem = reg(m, p.lay.rem, "rem"), reg(m, p.nxt.rem, "nrem")
        left = reg(m, self.dt(m, p.row.deadline), "left")
        wait = reg(m, self.wait(m, p.row.last_run), "wait")
        tie = reg(m, self.older(m, p.row.arrival), "tie")
        step = Signal(signed(F.REM.width + 2), name="step")
        m.d.comb += step.eq(rem - nrem)
        b_left = reg(m, Mux(left < 1, 1, left[:tw - 1]), "b_left", unsigned(tw - 1))
        left_pos = reg(m, left > 0, "left_pos")
        if self.sparse:
            gamma = reg(m, p.row.gamma, "gamma")
            stepv = reg(m, Mux(step < 1, 0, step[:F.REM.width]), "stepv",
                        unsigned(F.REM.width))
            g3, rem3 = delay(m, gamma, 1, "gamma"), delay(m, rem, 1, "rem")
            prem = mul(m, g3, rem3, name="prem", latency=2)
            pstep = mul(m, g3, stepv, name="pstep", latency=2)
            gr = saturate_shift(pstep, F.GAMMA.frac, F.REM.width)
            a_u = reg(m, saturate_shift(prem, F.GAMMA.frac, F.REM.width), "a_u")
            b_f = reg(m, Mux(gr == 0, 1, gr), "b_f", unsigned(F.REM.width))
            b_left, left_pos = delay(m, b_left, 3, "b_left"), delay(m, left_pos, 3, "lpos")
            a_f = delay(m, wait, 4, "a_f")
            pre = 5
        else:
            a_u = delay(m, rem, 1, "a_u")
            b_f = reg(m, Mux(step < 1, 1, step[:F.REM.width]), "b_f", unsigned(F.REM.width))
            a_f = delay(m, wait, 1, "a_f")
            pre = 2
        one = 1 << DIV_FRAC
        q_u = qdiv(m, rom, a_u, b_left, DIV_FRAC + 1, "qu")
        q_f = qdiv(m, rom, a_f, b_f, SDRM3_WIDTH, "qf")
        lp = delay(m, left_pos, DIV_LATENCY, "lpos")
        urg = Mux(lp, Mux(q_u > one, one, q_u), one)
        s = Signal(SDRM3_WIDTH + 1, name="s")
        m.d.comb += s.eq(urg + q_f)
        s_sat = saturate(s, (1 << SDRM3_WIDTH) - 1)[:SDRM3_WIDTH]
        # the quotients are in stage pre + 1 + DIV_LATENCY, the key registered there
        assert pre + DIV_LATENCY + 1 == self.latency
        return reg(m, Cat(delay(m, tie, pre - 1 + DIV_LATENCY, "tie"), ~s_sat), "key")


class Sdrm3ScoreUnit(_Sdrm3):
    policy = "sdrm3"


class Sdrm3SparseScoreUnit(_Sdrm3):
    policy = "sdrm3-sparse"
    sparse = True


# policy name -> factory(config, payload_shape) -> ScoreUnit
SCORE_UNITS = {u.policy: u for u in (
    FcfsScoreUnit, EdfScoreUnit, SjfScoreUnit, SjfSparseScoreUnit, PremaScoreUnit,
    PremaSparseScoreUnit, PlanariaScoreUnit, Sdrm3ScoreUnit, Sdrm3SparseScoreUnit,
    DystaScoreUnit,
)}


def score_unit(config, payload_shape):
    """The score unit of ``config.policy``."""
    return SCORE_UNITS[config.policy](config, payload_shape)

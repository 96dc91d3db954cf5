"""The policy seam's score-unit signature, the Dysta score unit, and the running argmin.

Every hardware policy's score unit has :func:`score_signature`: one task-table entry per
cycle in (its row, VARIANT and LAYER LUT words, a carried payload), its key out exactly
``SCORE_LATENCIES[policy]`` cycles later. The units are registered in
:mod:`rtl.scheduler.policies`; :class:`ScoreUnit` is their common base.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F
from sw_scheduler.timing import SCORE_LATENCIES, SCORE_LATENCY

from .arith import delay, mul, reg, saturate_shift

__all__ = ["SCORE_LATENCY", "Argmin", "DystaScoreUnit", "ScoreUnit", "score_signature"]


def score_signature(config, payload_shape) -> wiring.Signature:
    """The ports every score unit has (the policy seam).

    ``i`` (always ready): ``row`` (``config.row_layout``; a register), ``var``
    (:data:`~sw_scheduler.formats.VARIANT_ENTRY`), ``lay``
    (:data:`~sw_scheduler.formats.LAYER_ENTRY` at the entry's next layer) and ``nxt`` (the
    LAYER word at the layer after, for policies that read it; else 0) -- memory read data,
    registered by the unit before any logic -- and ``payload`` (carried unchanged); ``t``
    (decision time), ``recip_n`` (``RECIP[n_active]``) and ``beta`` (run-time BETA code),
    registers stable while entries are in flight; ``o`` (always ready): ``key`` (lowest
    wins) and ``payload`` of the entry that entered ``SCORE_LATENCIES[policy]`` cycles
    before.
    """
    return wiring.Signature({
        "i": In(stream.Signature(data.StructLayout({
            "row": config.row_layout, "var": F.VARIANT_ENTRY, "lay": F.LAYER_ENTRY,
            "nxt": F.LAYER_ENTRY, "payload": payload_shape}), always_ready=True)),
        "t": In(config.time_width),
        "recip_n": In(F.RECIP.shape),
        "beta": In(F.BETA.shape),
        "o": Out(stream.Signature(data.StructLayout({
            "key": unsigned(config.key_width), "payload": payload_shape}),
            always_ready=True)),
    })


class ScoreUnit(wiring.Component):
    """Base of the score units: ports (:func:`score_signature`), valid/payload carried
    ``latency`` stages, ``o.key`` driven by :meth:`key`.

    Subclasses set ``policy`` (a :data:`~sw_scheduler.hw_policies.HW_POLICIES` name) and
    implement ``key(m) -> Signal``: the key registered in stage ``latency`` (inputs are in
    stage 1; see :mod:`rtl.scheduler.arith` for the stage convention).

    Parameters
    ----------
    config : SchedulerConfig
    payload_shape : shape
        Carried unchanged from ``i`` to ``o`` (the slot and the command fields).
    """

    policy = ""

    def __init__(self, config, payload_shape):
        if config.policy != self.policy:
            raise ValueError(f"{type(self).__name__} implements policy {self.policy!r}, "
                             f"config.policy is {config.policy!r}")
        self._cfg = config
        self._payload_shape = payload_shape
        super().__init__(score_signature(config, payload_shape))

    @property
    def latency(self) -> int:
        return SCORE_LATENCIES[self.policy]

    def key(self, m: Module):
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        key = self.key(m)
        n = self.latency - 1
        m.d.comb += self.o.payload.key.eq(key)
        m.d.sync += [self.o.valid.eq(delay(m, self.i.valid, n, "valid")),
                     self.o.payload.payload.eq(delay(m, self.i.payload.payload, n, "payload"))]
        return m

    # -- pieces several policies share (combinational from registers) --
    def wait(self, m, stamp):
        """``max(0, t - stamp)`` (``W - 1`` bits)."""
        tw = self._cfg.time_width
        d = Signal(tw, name="wait_raw")
        m.d.comb += d.eq(self.t - stamp)
        return Mux(d[-1], 0, d[:tw - 1])

    def older(self, m, stamp):
        """``older_key`` (``W - 1`` bits): ``2**(W-1) - 1 - wait``."""
        return ~self.wait(m, stamp)

    def deadline_key(self, m, deadline):
        """``deadline - t + 2**(W-1)``: the difference with its sign bit inverted."""
        tw = self._cfg.time_width
        d = Signal(tw, name="dl_raw")
        m.d.comb += d.eq(deadline - self.t)
        return Cat(d[:tw - 1], ~d[tw - 1])

    def dt(self, m, deadline):
        """``deadline - t`` as a signed ``W``-bit value."""
        d = Signal(signed(self._cfg.time_width), name="dt_raw")
        m.d.comb += d.eq(deadline - self.t)
        return d


class DystaScoreUnit(ScoreUnit):
    """Dysta score of one entry per cycle (:func:`sw_scheduler.hw_policies.dysta_score`).

    Stages: 1 LUT words registered, slack and wait; 2-3 ``gamma*REM``; 2-4
    ``wait*KINV_ISO``; 4 rem, urgency; 5-6 ``pen*RECIP[n]``; 7 urgency + penalty; 8-10
    ``BETA*(...)``; 11 ``rem + ... >> 16`` saturated.
    """

    policy = "dysta"

    def key(self, m):
        c = self._cfg
        tw, sw = c.time_width, c.score_width
        p = self.i.payload
        # 1: LUT words registered; slack and wait (available in 2)
        gamma = reg(m, p.row.gamma, "gamma")
        rem_lut = reg(m, p.lay.rem, "rem_lut")
        kinv = reg(m, p.var.kinv_iso, "kinv")
        dt = reg(m, self.dt(m, p.row.deadline), "dt")
        wait = reg(m, self.wait(m, p.row.last_run), "wait")
        # 2-3: gamma * REM (in 4); 2-4: wait * KINV_ISO (in 5)
        prem = mul(m, gamma, rem_lut, name="prem", latency=2)
        ppen = mul(m, wait, kinv, name="ppen", latency=3)
        # 4: rem, urgency = clamp(dt - rem) (in 5)
        rem = saturate_shift(prem, F.GAMMA.frac, F.REM.width)
        slack = delay(m, dt, 2, "dt") - rem
        rem5 = reg(m, rem, "rem", F.REM.shape)
        urg5 = reg(m, Mux(slack < 0, 0, slack[:tw]), "urg", unsigned(tw))
        # 5-6: penalty / n_active (in 7); the penalty's saturation selects after the
        # multiply: min(p, smax) * r == (smax * r if p > smax else p * r)
        recip = reg(m, self.recip_n, "recip")
        max_prod = reg(m, (recip << sw) - recip, "max_prod")
        pen_over = delay(m, ppen[F.KINV_ISO.frac + sw:].any()
                         if len(ppen) > F.KINV_ISO.frac + sw else 0, 2, "pen_over")
        ppen2 = mul(m, ppen[F.KINV_ISO.frac:F.KINV_ISO.frac + sw], recip, name="ppen2",
                    latency=2)
        # 7: urgency + penalty (in 8)
        pen = saturate_shift(Mux(pen_over, max_prod, ppen2), F.RECIP.frac, sw)
        total = reg(m, delay(m, urg5, 2, "urg") + pen, "sum")
        # 8-10: beta * (urgency + penalty) (in 11); beta re-registered here, beside the
        # multiplier (it changes only through lut_w, outside SCANs: the delay is invisible)
        beta = reg(m, self.beta, "beta_r")
        w = mul(m, beta, total, name="pbeta", latency=3)
        # 11: score = rem + (... >> 16), saturated (in 12 = the output)
        out = Signal(len(w) + 1, name="out_raw")
        m.d.comb += out.eq(w + (delay(m, rem5, 6, "rem") << F.BETA.frac))
        return reg(m, saturate_shift(out, F.BETA.frac, sw), "key", unsigned(sw))


class Argmin(wiring.Component):
    """Running minimum over a sequence of scores; ties keep the earlier entry.

    Members
    -------
    i : In(stream, always_ready)   ``score`` and ``payload`` of one entry per valid cycle
    clear : In(1)     forget the best (an entry valid in the same cycle becomes the best)
    best_valid : Out(1); best_score : Out(score_width); best_payload : Out(payload_shape)
        Registered: include every entry accepted before this cycle.
    """

    def __init__(self, *, score_width: int, payload_shape):
        self._payload_shape = payload_shape
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "score": unsigned(score_width), "payload": payload_shape}),
                always_ready=True)),
            "clear": In(1),
            "best_valid": Out(1),
            "best_score": Out(score_width),
            "best_payload": Out(payload_shape),
        })

    def elaborate(self, platform):
        m = Module()
        better = self.clear | ~self.best_valid | (self.i.payload.score < self.best_score)
        with m.If(self.i.valid & better):
            m.d.sync += [self.best_valid.eq(1), self.best_score.eq(self.i.payload.score),
                         self.best_payload.eq(self.i.payload.payload)]
        with m.Elif(self.clear):
            m.d.sync += self.best_valid.eq(0)
        return m

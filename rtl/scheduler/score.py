"""Score unit (3-stage pipeline) and running argmin of the Dysta scheduler."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F

from .predictor import saturate

__all__ = ["SCORE_LATENCY", "Argmin", "ScoreUnit"]

SCORE_LATENCY = 3   # cycles from ScoreUnit.i to ScoreUnit.o


class ScoreUnit(wiring.Component):
    """Dysta score of one entry per cycle (``sw_scheduler.bitexact.score``), fully pipelined.

    Parameters
    ----------
    time_width, score_width : int
    beta : int
        BETA code (a build constant).
    payload_shape : shape
        Carried unchanged from ``i`` to ``o`` (e.g. slot index + row).

    Members
    -------
    i : In(stream, always_ready)
        ``deadline, last_run`` (counter values), ``gamma`` (GAMMA), ``rem`` (REM LUT),
        ``kinv_iso`` (KINV_ISO LUT), ``payload``.
    t : In(time_width)     decision time; must be stable while entries are in flight
    recip_n : In(RECIP)    ``RECIP[n_active]``; stable likewise
    o : Out(stream, always_ready)
        ``score`` and ``payload`` of the entry that entered ``SCORE_LATENCY`` cycles ago.
    """

    def __init__(self, *, time_width: int, score_width: int, beta: int, payload_shape):
        self._tw, self._sw, self._beta = time_width, score_width, beta
        self._payload_shape = payload_shape
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "deadline": unsigned(time_width), "last_run": unsigned(time_width),
                "gamma": F.GAMMA.shape, "rem": F.REM.shape, "kinv_iso": F.KINV_ISO.shape,
                "payload": payload_shape}), always_ready=True)),
            "t": In(time_width),
            "recip_n": In(F.RECIP.shape),
            "o": Out(stream.Signature(data.StructLayout({
                "score": unsigned(score_width), "payload": payload_shape}),
                always_ready=True)),
        })

    def elaborate(self, platform):
        tw, sw = self._tw, self._sw
        tmax, smax = (1 << tw) - 1, (1 << sw) - 1
        m = Module()
        i = self.i.payload

        # stage A: remaining latency, slack, penalty numerator
        a_valid = Signal()
        a_payload = Signal(self._payload_shape)
        a_rem = Signal(F.REM.shape)
        a_dt = Signal(signed(tw))
        a_pen = Signal(sw)
        dt = Signal(signed(tw))
        wait = Signal(signed(tw))
        m.d.comb += [dt.eq((i.deadline - self.t)[:tw]), wait.eq((self.t - i.last_run)[:tw])]
        wait_pos = Mux(wait[-1], 0, wait[:tw - 1])
        m.d.sync += [
            a_valid.eq(self.i.valid), a_payload.eq(i.payload),
            a_rem.eq(saturate((i.gamma * i.rem) >> F.GAMMA.frac, F.REM.max_int)),
            a_dt.eq(dt),
            a_pen.eq(saturate((wait_pos * i.kinv_iso) >> F.KINV_ISO.frac, smax)),
        ]

        # stage B: urgency = clamp(dt - rem), penalty / n_active
        b_valid = Signal()
        b_payload = Signal(self._payload_shape)
        b_rem = Signal(F.REM.shape)
        b_urg = Signal(tw)
        b_pen = Signal(sw)
        slack = a_dt - a_rem
        m.d.sync += [
            b_valid.eq(a_valid), b_payload.eq(a_payload), b_rem.eq(a_rem),
            b_urg.eq(Mux(slack < 0, 0, saturate(slack, tmax))),
            b_pen.eq(saturate((a_pen * self.recip_n) >> F.RECIP.frac, smax)),
        ]

        # stage C: score = rem + beta * (urgency + penalty)
        weighted = (self._beta * (b_urg + b_pen)) >> F.BETA.frac
        m.d.sync += [
            self.o.valid.eq(b_valid), self.o.payload.payload.eq(b_payload),
            self.o.payload.score.eq(saturate(b_rem + weighted, smax)),
        ]
        return m


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

"""Score unit (SCORE_LATENCY-stage pipeline) and running argmin of the Dysta scheduler."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F
from sw_scheduler.bitexact import SCORE_LATENCY

from .predictor import saturate, saturate_shift

__all__ = ["SCORE_LATENCY", "Argmin", "ScoreUnit"]

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
        tmax = (1 << tw) - 1
        m = Module()
        i = self.i.payload
        ps = self._payload_shape

        def stage(name, **fields):
            """Registers ``valid``, ``payload`` and ``fields`` (name -> (shape, value))."""
            regs = {"valid": Signal(name=f"{name}_valid"),
                    "payload": Signal(ps, name=f"{name}_payload")}
            for k, (shape, _) in fields.items():
                regs[k] = Signal(shape, name=f"{name}_{k}")
            return regs, [regs[k].eq(v) for k, (_, v) in fields.items()]

        # A: slack and wait (counter differences); LUT words registered
        dt = Signal(signed(tw))
        wait = Signal(signed(tw))
        m.d.comb += [dt.eq((i.deadline - self.t)[:tw]), wait.eq((self.t - i.last_run)[:tw])]
        a, eqs = stage("a", dt=(signed(tw), dt), wait=(tw - 1, Mux(wait[-1], 0, wait[:tw - 1])),
                       gamma=(F.GAMMA.shape, i.gamma), rem=(F.REM.shape, i.rem),
                       kinv=(F.KINV_ISO.shape, i.kinv_iso))
        m.d.sync += eqs + [a["valid"].eq(self.i.valid), a["payload"].eq(i.payload)]

        # B: raw products gamma * rem, wait * kinv_iso
        rw, kw = F.REM.shape.width, F.KINV_ISO.shape.width
        b, eqs = stage("b", dt=(signed(tw), a["dt"]),
                       prem=(F.GAMMA.shape.width + rw, a["gamma"] * a["rem"]),
                       ppen=(tw - 1 + kw, a["wait"] * a["kinv"]))
        m.d.sync += eqs + [b["valid"].eq(a["valid"]), b["payload"].eq(a["payload"])]

        # C: rem, urgency = clamp(dt - rem); raw penalty / n_active. The penalty's saturation
        # selects after the multiply: min(p, smax) * r == (smax * r if p > smax else p * r).
        rem = saturate_shift(b["prem"], F.GAMMA.frac, rw)
        slack = b["dt"] - rem
        pw = sw + F.RECIP.shape.width
        recip_r = Signal(F.RECIP.shape)           # local copies (recip_n stable per scan)
        max_prod = Signal(pw)                     # smax * recip_n = (recip_n << sw) - recip_n
        m.d.sync += [recip_r.eq(self.recip_n), max_prod.eq((recip_r << sw) - recip_r)]
        pen_over = b["ppen"][F.KINV_ISO.frac + sw:].any()
        pen_low = b["ppen"][F.KINV_ISO.frac:F.KINV_ISO.frac + sw]
        c, eqs = stage("c", rem=(F.REM.shape, rem),
                       urg=(tw, Mux(slack < 0, 0, saturate(slack, tmax))),
                       ppen=(pw, Mux(pen_over, max_prod, pen_low * recip_r)))
        m.d.sync += eqs + [c["valid"].eq(b["valid"]), c["payload"].eq(b["payload"])]

        # D: urgency + penalty
        sum_w = max(tw, sw) + 1
        d, eqs = stage("d", rem=(F.REM.shape, c["rem"]),
                       sum=(sum_w, c["urg"] + saturate_shift(c["ppen"], F.RECIP.frac, sw)))
        m.d.sync += eqs + [d["valid"].eq(c["valid"]), d["payload"].eq(c["payload"])]

        # E: beta * (urgency + penalty), raw
        e, eqs = stage("e", rem=(F.REM.shape, d["rem"]),
                       w=(sum_w + F.BETA.shape.width, self._beta * d["sum"]))
        m.d.sync += eqs + [e["valid"].eq(d["valid"]), e["payload"].eq(d["payload"])]

        # F: score = rem + (beta * (urgency + penalty) >> BETA.frac), saturated
        total = Signal(len(e["w"]) + 1)
        m.d.comb += total.eq(e["w"] + (e["rem"] << F.BETA.frac))
        m.d.sync += [
            self.o.valid.eq(e["valid"]), self.o.payload.payload.eq(e["payload"]),
            self.o.payload.score.eq(saturate_shift(total, F.BETA.frac, sw)),
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

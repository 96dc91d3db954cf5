"""Score units (SCORE_LATENCY-stage pipelines) and the running argmin of the scheduler.

Every hardware policy's score unit has :func:`score_signature`: one task-table entry per
cycle in (its row, VARIANT and LAYER LUT words, a carried payload), its score out exactly
``SCORE_LATENCY`` cycles later. The units are registered in :mod:`rtl.scheduler.policies`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_scheduler import formats as F
from sw_scheduler.timing import SCORE_LATENCY

from .predictor import saturate, saturate_shift

__all__ = ["SCORE_LATENCY", "Argmin", "DystaScoreUnit", "score_signature"]


def score_signature(config, payload_shape) -> wiring.Signature:
    """The ports every score unit has (the policy seam).

    ``i`` (always ready): ``row`` (``config.row_layout``), ``var``
    (:data:`~sw_scheduler.formats.VARIANT_ENTRY`), ``lay``
    (:data:`~sw_scheduler.formats.LAYER_ENTRY`, at the entry's next layer) and ``payload``
    (carried unchanged); ``t`` (decision time) and ``recip_n`` (``RECIP[n_active]``), stable
    while entries are in flight; ``o`` (always ready): ``score`` and ``payload`` of the entry
    that entered ``SCORE_LATENCY`` cycles before.
    """
    return wiring.Signature({
        "i": In(stream.Signature(data.StructLayout({
            "row": config.row_layout, "var": F.VARIANT_ENTRY, "lay": F.LAYER_ENTRY,
            "payload": payload_shape}), always_ready=True)),
        "t": In(config.time_width),
        "recip_n": In(F.RECIP.shape),
        "o": Out(stream.Signature(data.StructLayout({
            "score": unsigned(config.score_width), "payload": payload_shape}),
            always_ready=True)),
    })


class DystaScoreUnit(wiring.Component):
    """Dysta score of one entry per cycle (:func:`sw_scheduler.hw_policies.dysta_score`),
    fully pipelined.

    Parameters
    ----------
    config : SchedulerConfig
        Time and score widths, ``beta`` (a build constant).
    payload_shape : shape
        Carried unchanged from ``i`` to ``o`` (e.g. the slot index).

    Members
    -------
    As :func:`score_signature`.
    """

    def __init__(self, config, payload_shape):
        self._tw, self._sw, self._beta = config.time_width, config.score_width, config.beta
        self._payload_shape = payload_shape
        super().__init__(score_signature(config, payload_shape))

    def elaborate(self, platform):
        tw, sw = self._tw, self._sw
        tmax = (1 << tw) - 1
        m = Module()
        p = self.i.payload
        i = _DystaInputs(p.row.deadline, p.row.last_run, p.row.gamma, p.lay.rem, p.var.kinv_iso,
                         p.payload)
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


class _DystaInputs:
    """The fields the Dysta score reads from the seam's input bundle."""

    def __init__(self, deadline, last_run, gamma, rem, kinv_iso, payload):
        self.deadline, self.last_run, self.gamma = deadline, last_run, gamma
        self.rem, self.kinv_iso, self.payload = rem, kinv_iso, payload


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

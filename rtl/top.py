"""System top: the Dysta scheduler driving the sparse datapath through a descriptor table.

Data flow, one layer in flight::

    requests -> DystaScheduler --npu_cmd(slot, model, pattern, layer)--> DESC lookup
        DESC[(model, pattern, layer)] (+ tag = slot) --cmd--> SparseEngine --out--> out
    SparseEngine --resp(tag, nnz)--> npu_resp(nnz) -> DystaScheduler -> completions

``DESC`` is a ``Memory`` of :data:`DESC_LAYOUT` words addressed like the scheduler's
LAYER LUT (``LutLayout.layer_addr``); it is initialised from ``descriptors`` and written
at run time through ``desc_w``. The engine's buffers are written through ``load``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .accelerator.engine import SparseEngine
from .accelerator.layouts import CMD_LAYOUT, OUT_LAYOUT
from .ports import WritePort
from .scheduler.layouts import SchedulerConfig
from .scheduler.top import DystaScheduler

__all__ = ["DESC_LATENCY", "DESC_LAYOUT", "DystaTop", "pack_descriptor"]

# A layer descriptor: every engine command field except ``tag`` (the top sets tag = slot).
DESC_LAYOUT = data.StructLayout({name: fld.shape for name, fld in CMD_LAYOUT if name != "tag"})
# Cycles from the scheduler's npu_cmd transfer to the engine's cmd transfer when the engine
# is idle: the descriptor memory's synchronous read. The engine counts its cmd cycle in
# ``layer_cycles``, so npu_resp comes exactly ``layer_cycles`` after the npu_cmd transfer.
DESC_LATENCY = 1


def pack_descriptor(fields: dict) -> int:
    """Pack ``DESC_LAYOUT`` fields (enum members or ints) into an int word."""
    return DESC_LAYOUT.const({k: v for k, v in fields.items() if k != "tag"}).as_bits()


class DystaTop(wiring.Component):
    """Scheduler + descriptor lookup + datapath.

    Parameters
    ----------
    config : SchedulerConfig
    images : LutImages or None
        Scheduler LUT initial contents (see :class:`DystaScheduler`).
    lanes : int
        Datapath lanes ``P``.
    descriptors : list[int] or None
        ``config.lut.layer_depth`` packed :data:`DESC_LAYOUT` words; None = zeros.
    engine : dict
        Further :class:`SparseEngine` parameters (``max_k``, buffer depths).

    Members
    -------
    requests, completions, lut_w, time_w, now, n_active
        As on :class:`DystaScheduler` (``lut_w`` has a ``ready``: writes wait while the
        scheduler scans).
    desc_w : In(WritePort({addr, data}))
        Descriptor write, address ``LutLayout.layer_addr``.
    load : In(WritePort(engine.load_layout))
        Engine buffer writes, as on :class:`SparseEngine`.
    out : Out(stream.Signature(OUT_LAYOUT))
        Output rows of every layer run, as on :class:`SparseEngine`.
    busy : Out(1)
        A layer is in the descriptor stage or on the engine.
    """

    def __init__(self, config: SchedulerConfig, *, lanes: int = 16, images=None,
                 descriptors=None, engine: dict | None = None):
        if not isinstance(config, SchedulerConfig):
            raise TypeError(f"DystaTop: config must be a SchedulerConfig, got {config!r}")
        depth = config.lut.layer_depth
        if descriptors is not None and len(descriptors) != depth:
            raise ValueError(f"DystaTop: descriptors has {len(descriptors)} words, "
                             f"the LUT layout needs {depth}")
        self._cfg, self._images = config, images
        self._descriptors = list(descriptors) if descriptors is not None else []
        self._engine = SparseEngine(lanes=lanes, **(engine or {}))
        self._sched = DystaScheduler(config, images)
        c = config
        super().__init__({
            "requests": In(stream.Signature(c.request_layout)),
            "completions": Out(stream.Signature(c.completion_layout)),
            "lut_w": In(stream.Signature(c.lut_write_layout)),
            "time_w": In(WritePort(unsigned(c.time_width))),
            "desc_w": In(WritePort(data.StructLayout({
                "addr": config.lut_addr_width or 1, "data": DESC_LAYOUT.size}))),
            "load": In(WritePort(self._engine.load_layout)),
            "out": Out(stream.Signature(OUT_LAYOUT)),
            "now": Out(config.time_width),
            "n_active": Out(config.count_width),
            "busy": Out(1),
        })

    config = property(lambda self: self._cfg)
    lanes = property(lambda self: self._engine.lanes)
    engine = property(lambda self: self._engine)

    def elaborate(self, platform):
        m = Module()
        lut = self._cfg.lut
        m.submodules.sched = sched = self._sched
        m.submodules.engine = eng = self._engine
        m.submodules.desc = desc = memory.Memory(shape=DESC_LAYOUT.size,
                                                 depth=lut.layer_depth,
                                                 init=self._descriptors)
        wiring.connect(m, wiring.flipped(self.requests), sched.requests)
        wiring.connect(m, sched.completions, wiring.flipped(self.completions))
        wiring.connect(m, wiring.flipped(self.lut_w), sched.lut_w)
        wiring.connect(m, wiring.flipped(self.time_w), sched.time_w)
        wiring.connect(m, wiring.flipped(self.load), eng.load)
        wiring.connect(m, eng.out, wiring.flipped(self.out))
        m.d.comb += [self.now.eq(sched.now), self.n_active.eq(sched.n_active)]

        wp = desc.write_port()
        m.d.comb += [wp.addr.eq(self.desc_w.payload.addr),
                     wp.data.eq(self.desc_w.payload.data), wp.en.eq(self.desc_w.valid)]

        # Command path: accept npu_cmd when no layer is pending, read its descriptor (the
        # read port holds its data until the next accept), present it with tag = slot.
        rp = desc.read_port()
        c = sched.npu_cmd.payload
        pending = Signal()          # a command waits for the engine
        in_flight = Signal()        # accepted by the engine, response not yet returned
        slot = Signal.like(c.slot)
        accept = sched.npu_cmd.valid & ~pending & ~in_flight
        m.d.comb += [
            sched.npu_cmd.ready.eq(~pending & ~in_flight),
            rp.addr.eq((((c.model << lut.pattern_bits) | c.pattern) << lut.layer_bits)
                       | c.layer),
            rp.en.eq(accept),
        ]
        with m.If(accept):
            m.d.sync += [pending.eq(1), slot.eq(c.slot)]
        d = data.View(DESC_LAYOUT, rp.data)
        m.d.comb += [eng.cmd.valid.eq(pending), eng.cmd.payload.tag.eq(slot)]
        m.d.comb += [getattr(eng.cmd.payload, name).eq(getattr(d, name))
                     for name, _ in DESC_LAYOUT]
        with m.If(eng.cmd.valid & eng.cmd.ready):
            m.d.sync += [pending.eq(0), in_flight.eq(1)]

        # Response path: the engine's done + non-zero count is the scheduler's npu_resp.
        m.d.comb += [sched.npu_resp.valid.eq(eng.resp.valid & in_flight),
                     sched.npu_resp.payload.nnz.eq(eng.resp.payload.nnz),
                     eng.resp.ready.eq(sched.npu_resp.ready & in_flight)]
        with m.If(sched.npu_resp.valid & sched.npu_resp.ready):
            m.d.sync += in_flight.eq(0)
        m.d.comb += self.busy.eq(pending | in_flight)
        return m

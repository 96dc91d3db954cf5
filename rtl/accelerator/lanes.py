"""The ``P`` lanes: each skips the zeros of both operands; double-buffered accumulators."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sw_scheduler.timing import MAC_LATENCY

from ..ports import WritePort
from .bits import lowest_one, onehot_index, onehot_select
from .layouts import ACC, ACT, ADDR_WIDTH, DIM_WIDTH

__all__ = ["PASS_META", "LaneArray"]

# what travels with a row pass from the loop counters to its output entry
PASS_META = data.StructLayout({
    "col": unsigned(DIM_WIDTH),   # output column of lane 0
    "last": unsigned(1),          # the output row's last pass
    "end": unsigned(1),           # the layer's last pass
})

if MAC_LATENCY != 6:   # the stages below: one-hot, index, operand/address, read, product, add
    raise ValueError(f"LaneArray has 6 stages from issue to capture, timing says {MAC_LATENCY}")


class LaneArray(wiring.Component):
    """``P`` lanes, one output column each, running one row pass at a time.

    A row pass gives lane ``j`` the bitmap ``pend[j]`` of its effective products (the ``k``
    where the row's activation and the lane's weight are both non-zero). Every cycle each
    lane takes the lowest ``k`` left in its bitmap (a one-hot: one carry chain), selects
    ``row[k]`` and reads its own weight memory at ``wbase + k``; products add into the
    accumulator bank of the pass. The pass lasts as long as its busiest lane
    (``max count``, at least one cycle); the next pass starts in the following cycle into
    the other bank while the finished bank is read out for the drain.

    Timing: a pass started by ``start`` in cycle ``s`` issues from ``s + 1``; ``need`` is high
    in its last issue cycle ``e`` (and while idle), ``pass_end`` in ``e`` only; its
    accumulators show on ``cap_acc`` with ``cap_valid`` in cycle ``e + MAC_LATENCY`` (one
    cycle: the bank is cleared at its end).

    Parameters
    ----------
    lanes, max_k, w_words : int
        ``P``, the bitmap width and the depth of each lane's weight memory.

    Members
    -------
    start : In(1)
        Take the next pass on ``pend``/``count`` (only while ``need``).
    need : Out(1)
        The current pass ends this cycle, or the lanes are idle.
    need_next : Out(1)
        ``need`` of the next cycle (given this cycle's ``start``): lets the engine register
        ``start``.
    pend : In(ArrayLayout(max_k, lanes))
        Effective-product bitmaps of the next pass.
    count : In(ArrayLayout(range(max_k + 1), lanes))
        Their set bits.
    le1, le2 : In(1)
        Every count is at most 1 (at most 2): the pass's length is 1 (at most 2) cycles.
    wbase, meta : In
        The *current* pass's weight-memory address of ``k = 0`` and meta (held by the
        engine's queue head until ``pass_end``).
    row : In
        Its operand values one cycle later (a memory read at the head's address): in each
        cycle, the row of the pass that issued in the previous cycle.
    pass_end : Out(1)
        The current pass issues its last products this cycle.
    wload : In(WritePort({addr, data}))
        Weight writes: lane ``j`` stores ``data[j]`` at ``addr``.
    cap_valid, cap_acc, cap_meta : Out
        A finished pass's accumulators (int32 per lane, combinational from the bank) and
        its meta.
    """

    def __init__(self, *, lanes: int, max_k: int, w_words: int):
        for name, v in (("lanes", lanes), ("max_k", max_k), ("w_words", w_words)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"LaneArray: {name} must be a positive int, got {v!r}")
        self._lanes, self._max_k, self._w_words = lanes, max_k, w_words
        cnt = unsigned(max_k.bit_length())
        super().__init__({
            "start": In(1), "need": Out(1), "need_next": Out(1), "pass_end": Out(1),
            "pend": In(data.ArrayLayout(unsigned(max_k), lanes)),
            "count": In(data.ArrayLayout(cnt, lanes)), "le1": In(1), "le2": In(1),
            "row": In(data.ArrayLayout(ACT, max_k)),
            "wbase": In(ADDR_WIDTH), "meta": In(PASS_META),
            "wload": In(WritePort(data.StructLayout({
                "addr": unsigned(ADDR_WIDTH), "data": data.ArrayLayout(ACT, lanes)}))),
            "cap_valid": Out(1), "cap_acc": Out(data.ArrayLayout(ACC, lanes)),
            "cap_meta": Out(PASS_META),
        })

    def elaborate(self, platform):
        m = Module()
        P, K = self._lanes, self._max_k
        cnt_shape = unsigned(K.bit_length())

        # ---- the current pass: loaded by ``start``, one issue per lane per cycle ---------
        active = Signal()                   # a pass is issuing
        last = Signal()                     # ... and this is its last cycle
        bank = Signal()                     # accumulator bank of the current pass
        active_next, last_next = Signal(), Signal()
        m.d.comb += [self.need.eq(~active | last), active_next.eq(self.start | active & ~last),
                     self.need_next.eq(~active_next | last_next),
                     self.pass_end.eq(active & last)]
        m.d.sync += [active.eq(active_next), last.eq(last_next)]
        with m.If(self.start):
            m.d.sync += bank.eq(~bank)
        # the pass-end token, bank and meta of the cycle's issue, stage by stage
        tok = [Signal(name=f"tok{s}") for s in range(MAC_LATENCY + 1)]
        bnk = [Signal(name=f"bank{s}") for s in range(MAC_LATENCY + 1)]
        mta = [Signal(PASS_META, name=f"meta{s}") for s in range(MAC_LATENCY + 1)]
        m.d.comb += [tok[0].eq(active & last), bnk[0].eq(bank), mta[0].eq(self.meta)]
        for s in range(MAC_LATENCY):
            m.d.sync += [tok[s + 1].eq(tok[s]), bnk[s + 1].eq(bnk[s]), mta[s + 1].eq(mta[s])]
        # bank controls, registered one stage ahead (they fan out to every accumulator bit):
        # the bank stage E adds into, and the bank read out (and cleared) this cycle
        adding = [Signal(name=f"adding{b}") for b in range(2)]
        cleared = [Signal(name=f"cleared{b}") for b in range(2)]
        for b in range(2):
            m.d.sync += [adding[b].eq(bnk[MAC_LATENCY - 2] == b),
                         cleared[b].eq(tok[MAC_LATENCY - 1] & (bnk[MAC_LATENCY - 1] == b))]
        # the row of the one-hots: read in stage A (the memory's output), used in stage B
        row_b = Signal(data.ArrayLayout(ACT, K))
        wbase_a, wbase_b = Signal(ADDR_WIDTH), Signal(ADDR_WIDTH)
        m.d.sync += [row_b.eq(self.row), wbase_a.eq(self.wbase), wbase_b.eq(wbase_a)]

        le3 = []
        accs = []
        for j in range(P):
            # issue: lowest pending k (one-hot); the pass's masks replace the rest on start
            pend = Signal(K, name=f"pend{j}")
            cnt = Signal(cnt_shape, name=f"cnt{j}")
            low = lowest_one(pend, K)
            with m.If(self.start):
                m.d.sync += [pend.eq(self.pend[j]), cnt.eq(self.count[j])]
            with m.Else():
                m.d.sync += [pend.eq(pend & ~low), cnt.eq(cnt - (cnt != 0))]
            le3.append(cnt <= 3)
            # A: one-hot -> index (and the one-hot again for B)
            oh, oh_b = Signal(K, name=f"oh{j}"), Signal(K, name=f"oh_b{j}")
            idx_b = Signal(range(max(K, 2)), name=f"idx{j}")
            m.d.sync += [oh.eq(low), oh_b.eq(oh), idx_b.eq(onehot_index(oh, K))]
            # B: weight address (the read data arrives in C)
            mem = Memory(shape=ACT, depth=self._w_words, init=[])
            m.submodules[f"wmem{j}"] = mem
            wp = mem.write_port()
            m.d.comb += [wp.addr.eq(self.wload.payload.addr),
                         wp.data.eq(self.wload.payload.data[j]), wp.en.eq(self.wload.valid)]
            rp = mem.read_port()
            m.d.comb += rp.addr.eq(wbase_b + idx_b)
            # B: the operand value the one-hot selects (0 for an idle lane)
            x_c = Signal(ACT, name=f"x_c{j}")
            m.d.sync += x_c.eq(onehot_select(oh_b, list(row_b), K))
            # C: register the operands; D: product; E: accumulate into the pass's bank
            x_d, w_d = Signal(ACT, name=f"x_d{j}"), Signal(ACT, name=f"w_d{j}")
            prod = Signal(signed(2 * ACT.width), name=f"prod{j}")
            m.d.sync += [x_d.eq(x_c), w_d.eq(rp.data), prod.eq(x_d * w_d)]
            # (products of an idle lane are 0: its one-hot selects no operand)
            acc = [Signal(ACC, name=f"acc{j}_{b}") for b in range(2)]
            for b in range(2):
                m.d.sync += acc[b].eq(Mux(cleared[b], 0, acc[b]) + Mux(adding[b], prod, 0))
            accs.append(acc)
        # last cycle of a pass: every lane has at most one product left, i.e. the new pass's
        # counts are <= 1, or the current counts were <= 2 one cycle earlier; that test is
        # itself registered a cycle ahead (the new pass's flag, or the counts <= 3), so no
        # comparison or cross-lane AND lies on the path to ``start``
        all_le2 = Signal()
        m.d.sync += all_le2.eq(Mux(self.start, self.le2, _all(le3)))
        m.d.comb += last_next.eq(Mux(self.start, self.le1, all_le2))

        # ---- read-out: the finished bank, one cycle after its last product was added -----
        m.d.comb += [self.cap_valid.eq(tok[MAC_LATENCY]), self.cap_meta.eq(mta[MAC_LATENCY])]
        for j in range(P):
            m.d.comb += self.cap_acc[j].eq(Mux(bnk[MAC_LATENCY], accs[j][1], accs[j][0]))
        return m


def _all(terms):
    """AND of ``terms`` as a balanced tree."""
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return _all(terms[:mid]) & _all(terms[mid:])

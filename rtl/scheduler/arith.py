"""Pipelined arithmetic for the scheduler's score units and predictor.

The timing rule of the scheduler (docs/scheduler_rtl.md): memory read data goes into a
register before any logic; a product is split into MUL_CHUNK x MUL_CHUNK partial products
(one DSP tile each), registered, then summed in one or two registered adder levels; a stage
does at most one wide add or compare after its registers. yosys neither retimes nor uses
the DSP tiles' own registers, so the registers have to be here.

Stage convention: a value "available in stage s" may be used combinationally in the s-th
cycle of the pipeline; :func:`reg` of it is available in ``s + 1``, :func:`delay` by ``k``
in ``s + k``, :func:`mul` with ``latency`` L in ``s + L``.
"""

from __future__ import annotations

import math

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value

__all__ = ["MUL_CHUNK", "delay", "msb_index", "mul", "reg", "saturate", "saturate_shift"]

MUL_CHUNK = 18      # ECP5 MULT18X18D / Xilinx DSP48 (unsigned 18 x 18 fits both)


def saturate(value, maximum: int):
    """``min(value, maximum)`` for a non-negative ``value`` (an OR of the high bits when
    ``maximum`` is ``2**k - 1``, else a compare)."""
    value = Value.cast(value)
    k = maximum.bit_length()
    if maximum == (1 << k) - 1:
        return saturate_shift(value, 0, k) if len(value) > k else value
    return Mux(value > maximum, maximum, value)


def saturate_shift(value, shift: int, width: int):
    """``min(value >> shift, 2**width - 1)`` for an unsigned ``value``, by an OR of high bits."""
    over = value[shift + width:].any() if len(value) > shift + width else 0
    return Mux(over, (1 << width) - 1, value[shift:shift + width])


def reg(m: Module, value, name: str, shape=None) -> Signal:
    """``value`` registered (shape: ``shape`` or ``value``'s)."""
    s = Signal(shape if shape is not None else Value.cast(value).shape(), name=name)
    m.d.sync += s.eq(value)
    return s


def delay(m: Module, value, k: int, name: str):
    """``value`` through ``k`` registers (``k = 0``: ``value`` itself)."""
    for i in range(k):
        value = reg(m, value, f"{name}_d{i + 1}")
    return value


def _row_value(row, width: int) -> Value:
    """Partial products at disjoint bit ranges as one value (a concatenation, no adder)."""
    pieces, pos = [], 0
    for off, sig in sorted(row, key=lambda x: x[0]):
        if off > pos:
            pieces.append(Const(0, off - pos))
        pieces.append(sig)
        pos = off + len(sig)
    if pos < width:
        pieces.append(Const(0, width - pos))
    return Cat(*pieces)[:width]


def mul(m: Module, a, b, *, name: str, latency: int) -> Signal:
    """Unsigned ``a * b``, available ``latency`` (>= 1) stages after ``a`` and ``b``.

    Stage 1 registers every ``MUL_CHUNK x MUL_CHUNK`` partial product; partial products at
    disjoint bit ranges form one row (a concatenation); the ``latency - 1`` adder levels
    sum the rows, each level registered (rows per add chosen so that the levels suffice;
    pairwise at the default widths). Surplus levels just register.
    """
    if latency < 1:
        raise ValueError(f"mul {name}: latency must be >= 1, got {latency}")
    a, b = Value.cast(a), Value.cast(b)
    width = len(a) + len(b)
    parts = []
    for ia in range(0, len(a), MUL_CHUNK):
        for ib in range(0, len(b), MUL_CHUNK):
            sa, sb = a[ia:ia + MUL_CHUNK], b[ib:ib + MUL_CHUNK]
            p = Signal(len(sa) + len(sb), name=f"{name}_p{ia}_{ib}")
            m.d.sync += p.eq(sa * sb)
            parts.append((ia + ib, p))
    rows: list[list] = []
    for off, p in sorted(parts, key=lambda x: (x[0], -len(x[1]))):
        for row in rows:
            if all(off >= o + len(s) or off + len(p) <= o for o, s in row):
                row.append((off, p))
                break
        else:
            rows.append([(off, p)])
    values = [_row_value(r, width) for r in rows]
    if latency == 1 and len(values) > 1:
        raise ValueError(f"mul {name}: {len(values)} rows need an adder level (latency >= 2)")
    for level in range(latency - 1):
        left = latency - 1 - level
        g = 1
        while g ** left < len(values):
            g += 1
        nxt = []
        for i in range(0, len(values), g):
            s = Signal(width, name=f"{name}_s{level}_{i // g}")
            m.d.sync += s.eq(sum(values[i:i + g]))
            nxt.append(s)
        values = nxt
    if latency == 1:
        out = Signal(width, name=f"{name}_prod")
        m.d.comb += out.eq(values[0])
        return out
    return values[0]


def msb_index(x) -> tuple[Value, Value]:
    """``(any, index of the highest set bit)`` of ``x``, a balanced mux tree."""
    x = Value.cast(x)
    n = 1 << max(1, math.ceil(math.log2(max(len(x), 2))))
    x = Cat(x, Const(0, n - len(x))) if n > len(x) else x

    def tree(v):
        if len(v) == 2:
            return v[0] | v[1], v[1]
        h = len(v) // 2
        lo_any, lo_idx = tree(v[:h])
        hi_any, hi_idx = tree(v[h:])
        return lo_any | hi_any, Mux(hi_any, Cat(hi_idx, Const(1, 1)), Cat(lo_idx, Const(0, 1)))

    return tree(x)

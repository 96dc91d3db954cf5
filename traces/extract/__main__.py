"""``python -m traces.extract``: extract every model into ``traces/data``.

Runs the MediaPipe extractor (:mod:`traces.extract.mediapipe_models`) and, when present,
``traces.extract.onnx_models.run()`` and ``traces.extract.torch_models.run()``. Heavy
optional dependencies: ``pip install -e '.[traces]'`` (``make traces`` does it, then
writes the report with ``python -m sim.trace_report``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import time

EXTRACTORS = ("mediapipe_models", "onnx_models", "torch_models")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m traces.extract", description=__doc__)
    ap.add_argument("--only", nargs="*", choices=EXTRACTORS, default=list(EXTRACTORS),
                    help="extractors to run (default: all present)")
    ap.add_argument("--models", nargs="*", default=None,
                    help="only these models (of the extractors chosen; default: all)")
    ap.add_argument("--patterns", nargs="*", default=None,
                    help="only these variants, e.g. dense_int8 (default: each model's all; "
                         "pruned ones need dense in the same run for their drift)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name in args.only:
        try:
            mod = importlib.import_module(f"traces.extract.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"traces.extract.{name}":
                print(f"traces.extract: {name} not present, skipped")
                continue
            raise
        kw = {}
        if args.models is not None:
            unknown = [m for m in args.models
                       if not any(m in importlib.import_module(f"traces.extract.{e}").MODELS
                                  for e in args.only)]
            if unknown:
                ap.error(f"--models: unknown model(s) {', '.join(unknown)}")
            kw["models"] = [m for m in args.models if m in mod.MODELS]
            if not kw["models"]:
                continue
        if args.patterns is not None:
            kw["patterns"] = args.patterns
        t0 = time.time()
        mod.run(**kw)
        print(f"traces.extract: {name} done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

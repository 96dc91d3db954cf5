"""``python -m traces.extract``: extract every model, recompute cycles, write the report.

Runs the MediaPipe extractor (:mod:`traces.extract.mediapipe_models`) and, when present,
``traces.extract.onnx_models.run()`` and ``traces.extract.torch_models.run()``; then
:func:`traces.extract.recycle.recycle` and :func:`traces.report.main`. Heavy optional
dependencies: ``pip install -e '.[traces]'`` (``make traces`` does it).
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
    ap.add_argument("--no-extract", action="store_true",
                    help="only recompute cycles and rewrite the report")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not args.no_extract:
        for name in args.only:
            try:
                mod = importlib.import_module(f"traces.extract.{name}")
            except ModuleNotFoundError as e:
                if e.name == f"traces.extract.{name}":
                    print(f"traces.extract: {name} not present, skipped")
                    continue
                raise
            t0 = time.time()
            mod.run()
            print(f"traces.extract: {name} done in {time.time() - t0:.0f} s")
    from traces.extract.recycle import recycle
    from traces.report import main as report

    recycle()
    report([])


if __name__ == "__main__":
    main()

"""Command line of the evaluation suites: ``python -m eval SUITE [options]``.

A suite module provides ``add_arguments(parser)`` and ``run(args) -> int``; register it in :data:`SUITES`. Only
the chosen suite's module is imported, so ``python -m eval --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from deconstruct.errors import DeconstructError

SUITES = {
    "separation": ("eval.separation_suite", "stems vs references: BSSEval v4 and whole-track SDR, with baselines"),
    "analysis": ("eval.analysis_suite", "effect detection F1 and parameter errors on eval dry recordings"),
    "removal": ("eval.removal_suite", "effect removal: SI-SDR and multi-resolution STFT distance to the dry stem"),
    "e2e": ("eval.e2e_suite", "whole deconstructions of band-like songs: eval sources with known effects over "
                              "rendered bands"),
    "band": ("eval.band_suite", "a voice with one known effect 3 dB under a real band: analysis and removal on "
                                "the separated stem"),
    "wild": ("eval.wild_suite", "real songs without stems: detections and parameter spread per effect, every dry "
                                "stem's level change"),
}


def build_parser(suite: str) -> argparse.ArgumentParser:
    """The option parser of one registered suite (imports its module)."""
    module, summary = SUITES[suite]
    parser = argparse.ArgumentParser(prog=f"python -m eval {suite}", description=summary)
    importlib.import_module(module).add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the suite; a :class:`DeconstructError` prints one line and sets the exit code."""
    listing = "\n".join(f"  {name:12s} {summary}" for name, (_, summary) in SUITES.items())
    top = argparse.ArgumentParser(
        prog="python -m eval", description="Run an evaluation suite and write its report folder.",
        epilog=f"suites:\n{listing}", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("suite", choices=sorted(SUITES), metavar="SUITE", help="one of: " + ", ".join(SUITES))
    top.add_argument("options", nargs=argparse.REMAINDER, help="the suite's options (SUITE --help lists them)")
    chosen = top.parse_args(argv)
    args = build_parser(chosen.suite).parse_args(chosen.options)
    try:
        return int(importlib.import_module(SUITES[chosen.suite][0]).run(args))
    except DeconstructError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code

"""``deconstruct fetch demucs:<name> ...``: download published separation models into demucs's caches.

Run on a connected machine; later runs (``--model demucs:<name>``) then load from the cache without a network. Each
fetched model is loaded once (allow-listed classes, checksums) so a damaged download is caught here.
"""

from __future__ import annotations

import argparse
import sys

from deconstruct.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    from deconstruct.separation.backends.demucs_hub import PUBLISHED

    parser = argparse.ArgumentParser(
        prog="deconstruct fetch", description="Download published separation models ahead of time into demucs's "
        "caches (the Hugging Face cache or torch hub's checkpoints folder), with a progress bar.",
        epilog=f"published demucs models: {', '.join(PUBLISHED)}\nexample: deconstruct fetch demucs:htdemucs_ft",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="demucs:NAME", help="models to download")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from deconstruct.separation.backends.demucs_backend import PREFIX
    from deconstruct.separation.backends.demucs_files import build_bag
    from deconstruct.separation.backends.demucs_hub import download, find_cached

    for spec in args.models:
        if not spec.startswith(PREFIX):
            raise InputError(f"{spec!r}: fetch takes published models as demucs:NAME (e.g. demucs:htdemucs_ft)")
        name = spec[len(PREFIX):]
        cached = find_cached(name)
        if cached is None:
            cached = download(name, log=lambda line: print(line, file=sys.stderr))
            status = "downloaded"
        else:
            status = "already cached"
        build_bag(cached.spec, cached.paths)  # a damaged or refused file fails here, not at the next run
        print(f"{spec}: {status} in the {cached.cache} cache ({len(cached.paths)} model file(s), "
              f"{', '.join(str(path) for path in cached.paths)})")
    return 0

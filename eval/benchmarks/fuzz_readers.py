"""Fuzzing the readers of user files: audio, SOFA (HRTF), JSON settings and checkpoints.

Each reader gets valid seed files mutated at random (bytes flipped or set to boundary values, 32-bit fields set to
extreme integers, slices deleted, duplicated or truncated). The only acceptable outcomes are a normal return or one
of the project's one-line errors (:class:`~deconstruct.errors.DeconstructError`); anything else (another
exception, a ``MemoryError`` from an allocation a header asked for) is a bug and is listed with its input saved.
The process runs under an address-space limit (``--memory-gb``), so an input that makes a reader allocate far more
than the file holds fails loudly instead of swapping.

    python eval/benchmarks/fuzz_readers.py [--seconds 60] [--readers audio sofa json checkpoint] [--seed 0]

The test suite runs the same readers briefly through hypothesis (tests/spine/test_fuzz_readers.py).
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from deconstruct.errors import DeconstructError  # noqa: E402

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF)
INTERESTING_INTS = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xC4B4_0000, 3_300_000_000 & 0xFFFFFFFF)
OPERATIONS = ("flip", "byte", "int32", "delete", "duplicate", "truncate")

Mutation = tuple[str, int, int]
"""``(operation, position, value)``: position and value are reduced modulo what the data allows."""


def apply_mutations(data: bytes, mutations: list[Mutation]) -> bytes:
    """``data`` with each mutation applied in turn (see :data:`OPERATIONS`)."""
    buffer = bytearray(data)
    for operation, position, value in mutations:
        if not buffer:
            break
        at = position % len(buffer)
        if operation == "flip":
            buffer[at] ^= 1 << (value % 8)
        elif operation == "byte":
            buffer[at] = INTERESTING_BYTES[value % len(INTERESTING_BYTES)]
        elif operation == "int32":
            at = min(at, max(len(buffer) - 4, 0))
            packed = struct.pack("<I", INTERESTING_INTS[value % len(INTERESTING_INTS)])
            buffer[at:at + 4] = packed[:len(buffer) - at]
        elif operation == "delete":
            del buffer[at:at + 1 + value % 64]
        elif operation == "duplicate":
            piece = buffer[at:at + 1 + value % 256]
            buffer[at:at] = piece
        elif operation == "truncate":
            del buffer[at:]
    return bytes(buffer)


def random_mutations(rng: np.random.Generator, size: int) -> list[Mutation]:
    """One to eight random mutations; positions favour the first 256 bytes (headers live there)."""
    count = int(rng.integers(1, 9))
    out = []
    for _ in range(count):
        operation = OPERATIONS[int(rng.integers(len(OPERATIONS)))]
        header = rng.random() < 0.6
        position = int(rng.integers(min(256, max(size, 1)) if header else max(size, 1)))
        out.append((operation, position, int(rng.integers(1 << 16))))
    return out


# --- readers and their seeds -----------------------------------------------------------------------------------------


def _audio_seeds(folder: Path) -> list[Path]:
    import soundfile as sf

    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal((2205, 2))).astype(np.float32)
    seeds = []
    for name, fmt, subtype in (("a.wav", "WAV", "PCM_16"), ("b.wav", "WAV", "FLOAT"), ("c.flac", "FLAC", "PCM_24"),
                               ("d.ogg", "OGG", "VORBIS"), ("e.wav", "WAV", "PCM_24")):
        sf.write(folder / name, x if name != "e.wav" else x[:, :1], 44100, format=fmt, subtype=subtype)
        seeds.append(folder / name)
    return seeds


def _read_audio(path: Path) -> None:
    from deconstruct.audio import load_audio
    from deconstruct.streaming import FileReader

    load_audio(path)
    reader = FileReader(path)
    try:
        for start in range(0, reader.num_samples, 4096):
            reader.read(start, min(start + 4096, reader.num_samples))
    finally:
        reader.close()


def _sofa_seeds(folder: Path) -> list[Path]:
    from deconstruct.spatial import DEFAULT_SOFA

    target = folder / "hrtf.sofa"
    shutil.copy(DEFAULT_SOFA, target)
    return [target]


def _read_sofa(path: Path) -> None:
    from deconstruct.spatial import load_sofa

    load_sofa(path)


def _json_seeds(folder: Path) -> list[Path]:
    import json

    remix = folder / "remix.json"
    remix.write_text(json.dumps({"stems": {"vocals": {"gain_db": 2.0, "pan": -0.3, "width_deg": 30, "mute": False,
                                                      "solo": False}, "drums": {"gain_db": -3}},
                                 "master_gain_db": -1.0}))
    placement = folder / "placement.json"
    placement.write_text(json.dumps({"name": "mine", "stems": {"vocals": {"azimuth_deg": 0, "elevation_deg": 0,
                                                                         "width_deg": 20, "gain_db": 0}}}))
    return [remix, placement]


def _read_json(path: Path) -> None:
    from deconstruct.spatial import load_placement, load_remix_settings

    if path.name.startswith("remix"):
        load_remix_settings(path)
    else:
        load_placement(path)


def _checkpoint_seeds(folder: Path) -> list[Path]:
    from deconstruct.models.checkpoint import save_checkpoint
    from deconstruct.removal.remover import dsp_only_config

    return [save_checkpoint(folder / "removal.pt", "dsp-only", dsp_only_config(), {})]


def _read_checkpoint(path: Path) -> None:
    from deconstruct.removal import EffectRemover

    EffectRemover(path)  # the registry's checks, then the model built from the checkpoint's config


@dataclass(frozen=True)
class Reader:
    """A reader under test: how to make seed files and how to read one file."""

    seeds: Callable[[Path], list[Path]]
    read: Callable[[Path], None]


READERS = {
    "audio": Reader(_audio_seeds, _read_audio),
    "sofa": Reader(_sofa_seeds, _read_sofa),
    "json": Reader(_json_seeds, _read_json),
    "checkpoint": Reader(_checkpoint_seeds, _read_checkpoint),
}


def outcome(reader: Reader, path: Path) -> str:
    """``"ok"``, the project's error class name (one-line message), or ``"BUG <type>: <message>"``."""
    try:
        reader.read(path)
    except DeconstructError as error:
        lines = str(error).splitlines()
        return type(error).__name__ if len(lines) == 1 else f"BUG multi-line {type(error).__name__}: {lines[0]}"
    except Exception as error:  # anything else is a bug by definition
        return f"BUG {type(error).__name__}: {(str(error).splitlines() or [''])[0][:120]}"
    return "ok"


def fuzz(name: str, seconds: float, seed: int, folder: Path) -> tuple[int, collections.Counter, list[Path]]:
    """Mutate ``name``'s seeds for ``seconds``; returns (inputs tried, outcomes, saved failing inputs)."""
    import warnings

    warnings.simplefilter("ignore")
    reader = READERS[name]
    seeds = [(path, path.read_bytes()) for path in reader.seeds(folder)]
    rng = np.random.default_rng(seed)
    outcomes: collections.Counter = collections.Counter()
    failures: list[Path] = []
    tried, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        path, data = seeds[tried % len(seeds)]
        mutated = apply_mutations(data, random_mutations(rng, len(data)))
        candidate = path.with_name(f"fuzz{path.suffix}")
        candidate.write_bytes(mutated)
        result = outcome(reader, candidate)
        outcomes[result.split(":")[0]] += 1
        if result.startswith("BUG") and len(failures) < 20:
            kept = folder / f"failure_{name}_{len(failures)}{path.suffix}"
            kept.write_bytes(mutated)
            failures.append(kept)
            print(f"  {name}: {result} (input saved: {kept})", flush=True)
        tried += 1
    return tried, outcomes, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="fuzzing time per reader")
    parser.add_argument("--readers", nargs="+", default=list(READERS), choices=list(READERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-gb", type=float, default=4.0, help="address-space limit of this process")
    parser.add_argument("--keep", help="folder to keep failing inputs in (default: a temporary folder)")
    args = parser.parse_args()
    import torch  # loaded before the memory limit: its libraries map large address ranges

    torch.set_num_threads(1)
    limit = int(args.memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fuzz_readers."))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'reader':<11} {'inputs':>8} {'per_s':>7}  outcomes")
    bugs = 0
    for name in args.readers:
        started = time.monotonic()
        tried, outcomes, failures = fuzz(name, args.seconds, args.seed, folder)
        rate = tried / max(time.monotonic() - started, 1e-9)
        listed = ", ".join(f"{key} {count}" for key, count in outcomes.most_common())
        print(f"{name:<11} {tried:>8} {rate:>7.0f}  {listed}", flush=True)
        bugs += sum(count for key, count in outcomes.items() if key.startswith("BUG"))
    print(f"unacceptable outcomes: {bugs}" + (f" (inputs kept in {folder})" if bugs else ""))
    if not args.keep and not bugs:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(1 if bugs else 0)


if __name__ == "__main__":
    main()

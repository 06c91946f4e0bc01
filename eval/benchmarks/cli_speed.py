"""Real-time factor and peak memory of the ``deconstruct`` CLI on long inputs (CPU).

Builds a 3-minute and a 10-minute stereo song by looping the shipped example, runs the CLI on each in a fresh
process, and prints wall time, real-time factor (wall / audio duration) and peak RSS (``os.wait4`` of each child).

    python eval/benchmarks/cli_speed.py [--minutes 3 10] [--model NAME_OR_PATH] [--stages separate]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

EXAMPLE = Path(__file__).resolve().parents[2] / "deconstruct" / "examples" / "slow_motion_dream_excerpt.mp3"


def make_song(path: Path, minutes: float) -> float:
    """Write a ``minutes``-long stereo WAV built by looping the example; returns its duration in seconds."""
    clip, rate = sf.read(EXAMPLE, dtype="float32", always_2d=True)
    total = int(minutes * 60 * rate)
    with sf.SoundFile(path, "w", rate, clip.shape[1], subtype="PCM_16") as out:
        written = 0
        while written < total:
            piece = clip[: total - written]
            out.write(piece)
            written += len(piece)
    return total / rate


def run_cli(song: Path, out: Path, extra: list[str]) -> tuple[float, float]:
    """Run the CLI in a child process; returns (wall seconds, peak RSS in MB of the child)."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "deconstruct", str(song), "-o", str(out), "-q", "--device", "cpu",
                              *extra])
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the CLI failed on {song.name} (status {status})")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[3.0, 10.0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--stages", default="separate")
    args = parser.parse_args()
    extra = ["--stages", args.stages] + (["--model", args.model] if args.model else [])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, stages {args.stages}")
    print(f"{'minutes':>8} {'wall_s':>8} {'rtf':>6} {'peak_rss_mb':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            song = Path(tmp) / f"song_{minutes:g}min.wav"
            duration = make_song(song, minutes)
            wall, peak = run_cli(song, Path(tmp) / f"out_{minutes:g}", extra)
            print(f"{minutes:>8g} {wall:>8.1f} {wall / duration:>6.3f} {peak:>12.0f}")


if __name__ == "__main__":
    main()

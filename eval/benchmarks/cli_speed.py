"""Real-time factor and peak memory of the ``deconstruct`` CLI on long inputs (CPU), whole run and per stage.

Builds a 3-minute and a 10-minute stereo song by looping the shipped example, runs the CLI on each in a fresh
process (``--threads`` CPU threads, default 2), and prints wall time, real-time factor (wall / audio duration), peak
RSS and CPU seconds (``os.wait4`` of each child), the peak's ratio to the first song's, and the real-time factor
of every stage from report.json's ``timings_s`` (startup, separation, analysis, removal, resynthesis, render, pcm,
report). The load average is printed: on a shared machine wall times grow with it, CPU seconds and memory do not.

    python eval/benchmarks/cli_speed.py [--minutes 3 10] [--model NAME_OR_PATH] [--stages separate,analyze,remove]
        [--extra "--upmix 5.1,binaural"]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
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


def run_cli(song: Path, out: Path, extra: list[str], threads: int = 2) -> tuple[float, float, float]:
    """Run the CLI in a child process; returns (wall seconds, peak RSS in MB, CPU seconds of the child)."""
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    child = subprocess.Popen([sys.executable, "-m", "deconstruct", str(song), "-o", str(out), "-q", "--device", "cpu",
                              *extra], env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the CLI failed on {song.name} (status {status})")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


STAGE_ORDER = ("startup", "separation", "analysis", "removal", "resynthesis", "render", "pcm", "report")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[3.0, 10.0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--stages", default="separate,analyze,remove")
    parser.add_argument("--extra", default="", help='more CLI options, e.g. "--upmix 5.1,binaural"')
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    extra = ["--stages", args.stages, *shlex.split(args.extra)] + (["--model", args.model] if args.model else [])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {args.threads} threads, "
          f"Python {platform.python_version()}, load average {load:.1f}; options: {' '.join(extra)}")
    print(f"{'minutes':>8} {'wall_s':>8} {'rtf':>6} {'cpu_s':>8} {'peak_rss_mb':>12} {'vs_first':>9}  rtf per stage")
    first_peak = None
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            song = Path(tmp) / f"song_{minutes:g}min.wav"
            duration = make_song(song, minutes)
            out = Path(tmp) / f"out_{minutes:g}"
            wall, peak, cpu = run_cli(song, out, extra, args.threads)
            first_peak = first_peak or peak
            timings = json.loads((out / "report.json").read_text()).get("timings_s", {})
            stages = " ".join(f"{key} {timings[key] / duration:.3f}" for key in STAGE_ORDER if key in timings)
            print(f"{minutes:>8g} {wall:>8.1f} {wall / duration:>6.3f} {cpu:>8.1f} {peak:>12.0f} "
                  f"{peak / first_peak:>9.2f}  {stages}", flush=True)
            shutil.rmtree(out, ignore_errors=True)
            song.unlink()


if __name__ == "__main__":
    main()

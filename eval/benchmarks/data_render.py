"""Rendering speed of the synthetic multitrack engine on one core.

Renders items of :class:`deconstruct.data.rendering.multitrack.SyntheticMultitracks` in this process with one thread and
prints seconds of multitrack audio rendered per second (each item counts its duration once, however many stems it
has), per second of wall time and per second of this process's CPU time (the figure that holds on a busy machine).
The first item (soundfont and voice loading) is timed apart.

    python eval/benchmarks/data_render.py [--items 40] [--duration 6] [--stems vocals drums bass other]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from deconstruct.data.rendering.multitrack import SyntheticMultitracks  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40, help="items to render after the warm-up item")
    parser.add_argument("--duration", type=float, default=6.0, help="item length in seconds")
    parser.add_argument("--stems", nargs="+", default=["vocals", "drums", "bass", "other"], help="stem set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score-probability", type=float, default=0.2,
                        help="share of items built from music21 scores (first parse of a work is slow)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    dataset = SyntheticMultitracks(args.seed, args.items + 1, args.duration, stems=tuple(args.stems),
                                   score_probability=args.score_probability)
    start = time.perf_counter()
    dataset[0]
    warm_up = time.perf_counter() - start

    times = []
    cpu_start = time.process_time()
    for index in range(1, args.items + 1):
        start = time.perf_counter()
        dataset[index]
        times.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu_start
    times = np.array(times)
    audio_s = args.items * args.duration
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 thread used")
    print(f"warm-up (soundfont + voices + first item): {warm_up:.2f} s")
    print(f"{args.items} items x {args.duration:g} s, stems {', '.join(args.stems)}")
    print(f"per item: median {np.median(times) * 1000:.0f} ms, p90 {np.percentile(times, 90) * 1000:.0f} ms, "
          f"max {times.max() * 1000:.0f} ms")
    print(f"multitrack audio rendered per second (one core): {audio_s / times.sum():.1f} s/s wall, "
          f"{audio_s / cpu:.1f} s/s CPU (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()

"""Speed and agreement of ``deconstruct.metrics.bss_eval_v4`` against museval (BSSEval v4, 1-s frames).

Both run on the same float64 input of 4 stereo stems, on the same number of CPU threads:

- ``preview``: the real MUSDB18 preview "Music Delta - 80s Rock" (6.8 s), estimated by mixture/4 and by
  perturbed stems (cross-talk, a short echo, noise);
- ``synthetic``: a 2-minute song built by looping the preview's stems with fresh noise in every repeat,
  estimated by perturbed stems.

Prints museval's time, ours (first call and best of ``--repeat``), the speed-up, and the largest absolute
difference per metric over all frames (NaN frames must coincide).

    python eval/benchmarks/bsseval_speed.py [--data DIR] [--threads 1] [--minutes 2] [--repeat 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "musdb18_music_delta_80s_rock"
STEMS = ("vocals", "drums", "bass", "other")


def perturbed(stems: np.ndarray, seed: int) -> np.ndarray:
    """Estimates with interference (20% of the next stem), a 3-ms echo and noise at -30 dB re each stem.

    Shape: ``[sources, samples, channels]`` → same.
    """
    rng = np.random.default_rng(seed)
    echo = np.roll(stems, 132, axis=1) * 0.3
    noise = rng.standard_normal(stems.shape) * stems.std(axis=(1, 2), keepdims=True) * 10 ** (-30 / 20)
    return stems + 0.2 * np.roll(stems, 1, axis=0) + echo + noise


def looped(stems: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Loop ``[sources, samples, channels]`` stems to ``samples`` samples, adding low noise so no repeat is equal."""
    rng = np.random.default_rng(seed)
    reps = -(-samples // stems.shape[1])
    song = np.concatenate([stems] * reps, axis=1)[:, :samples]
    return song + 1e-3 * rng.standard_normal(song.shape) * stems.std()


def compare(name: str, references: np.ndarray, estimates: np.ndarray, repeat: int, device: str) -> None:
    """Time museval and ours on one case and print the comparison. Arrays are ``[sources, samples, channels]``."""
    import museval
    import torch

    from deconstruct.metrics import bss_eval_v4

    refs_t = torch.from_numpy(references).permute(0, 2, 1).to(device)
    ests_t = torch.from_numpy(estimates).permute(0, 2, 1).to(device)
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        ours = bss_eval_v4(refs_t, ests_t).as_dict()
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    sdr, isr, sir, sar = museval.evaluate(references, estimates)
    museval_s = time.perf_counter() - start
    theirs = {"SDR": sdr, "ISR": isr, "SIR": sir, "SAR": sar}
    seconds = references.shape[1] / 44100
    print(f"\n[{name}] {references.shape[0]} stems x {references.shape[2]} ch, {seconds:.1f} s, {sdr.shape[1]} frames")
    print(f"  museval            {museval_s:8.2f} s")
    print(f"  ours (first call)  {times[0]:8.2f} s   speed-up {museval_s / times[0]:6.1f}x")
    print(f"  ours (best of {len(times)})   {min(times):8.2f} s   speed-up {museval_s / min(times):6.1f}x")
    for metric, reference in theirs.items():
        value = ours[metric].cpu().numpy()
        same_nan = bool((np.isnan(value) == np.isnan(reference)).all())
        finite = np.isfinite(reference) & np.isfinite(value)
        diff = float(np.abs(value[finite] - reference[finite]).max()) if finite.any() else float("nan")
        print(f"  max |ours - museval| {metric}: {diff:.2e} dB   NaN frames identical: {same_nan}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the preview's stem WAVs")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both (default 1)")
    parser.add_argument("--minutes", type=float, default=2.0, help="length of the synthetic case (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours per case (default 3)")
    parser.add_argument("--device", default="cpu", help="device for ours (default cpu)")
    args = parser.parse_args(argv)

    import soundfile as sf
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=args.threads)  # numpy/scipy BLAS and OpenMP pools, for museval
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REPO))
    if not (args.data / "mixture.wav").exists():
        print(f"error: {args.data} holds no mixture.wav; pass --data with the preview's WAV stems", file=sys.stderr)
        return 2
    stems = np.stack([sf.read(args.data / f"{name}.wav", always_2d=True)[0] for name in STEMS])
    mixture = sf.read(args.data / "mixture.wav", always_2d=True)[0]
    print(f"threads: {args.threads}; torch {torch.__version__}; device for ours: {args.device}")
    compare("preview, mixture/4", stems, np.repeat(mixture[None] / len(STEMS), len(STEMS), 0), args.repeat,
            args.device)
    compare("preview, perturbed stems", stems, perturbed(stems, seed=0), args.repeat, args.device)
    song = looped(stems, int(args.minutes * 60 * 44100), seed=1)
    compare(f"synthetic {args.minutes:g} min, perturbed stems", song, perturbed(song, seed=2), args.repeat,
            args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Parity of the differentiable torch effects with the pedalboard renders, on real ``train`` recordings.

For every ``train`` dry recording of the shared ``splits.json`` (its first ``--seconds`` seconds at its own sample
rate, levelled to -18 dBFS RMS) and every effect, ``--settings`` random catalog settings are rendered by pedalboard
and by ``deconstruct.effects.functional``; the table gives the SI-SDR (dB) of the torch render against the
pedalboard render (median, minimum over files x settings) and the mean time per render of each. Gain uses
gains in -24..+24 dB. Freeverb has no torch version; convolution reverb uses one implementation for both, so
neither is listed.

    python eval/benchmarks/effects_parity.py [--seconds 5] [--settings 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pedalboard
import torch

from deconstruct.audio import load_audio
from deconstruct.data.datasets.effected import train_dry_files
from deconstruct.effects import functional
from deconstruct.effects.chain import sample_chain
from deconstruct.effects.parity import si_sdr, torch_render
from deconstruct.effects.render import render_effect

EFFECTS = ("eq", "compressor", "distortion", "chorus", "delay", "limiter")
REQUIRED_DB = {"gain": 20.0, "eq": 20.0, "distortion": 20.0, "delay": 20.0}


def recordings(seconds: float) -> list[tuple[str, np.ndarray, int]]:
    """``(name, [channels, samples] float32, sample_rate)`` of each ``train`` dry recording, levelled."""
    out = []
    for path in train_dry_files():
        audio = load_audio(path)
        x = audio.samples[:, : int(seconds * audio.sample_rate)].numpy()
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        if rms > 1e-4:
            out.append((path.name, (x * (10 ** (-18 / 20) / rms)).astype(np.float32), audio.sample_rate))
    return out


def timed(function, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = function(*args)
    return np.asarray(result), time.perf_counter() - start


def gain_rows(clips, settings: int, rng: np.random.Generator) -> tuple[list[float], list[float], list[float]]:
    scores, board_times, torch_times = [], [], []
    for _, x, rate in clips:
        for gain_db in rng.uniform(-24.0, 24.0, size=settings):
            reference, t_board = timed(pedalboard.Gain(float(gain_db)), x, float(rate))
            estimate, t_torch = timed(lambda: functional.gain(torch.from_numpy(x)[None], float(gain_db))[0].numpy())
            scores.append(si_sdr(reference, estimate))
            board_times.append(t_board)
            torch_times.append(t_torch)
    return scores, board_times, torch_times


def effect_rows(name: str, clips, settings: int, seed: int) -> tuple[list[float], list[float], list[float]]:
    scores, board_times, torch_times = [], [], []
    for file_index, (_, x, rate) in enumerate(clips):
        for setting in range(settings):
            effect = sample_chain([seed, file_index, setting, len(name)], 1, 1, [name]).effects[0]
            reference, t_board = timed(render_effect, x, rate, effect)
            estimate, t_torch = timed(torch_render, x, rate, effect)
            scores.append(si_sdr(reference, estimate))
            board_times.append(t_board)
            torch_times.append(t_torch)
    return scores, board_times, torch_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--settings", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    clips = recordings(args.seconds)
    torch_render(clips[0][1], clips[0][2], sample_chain(0, 1, 1, ["compressor"]).effects[0])  # compile loops
    torch_render(clips[0][1], clips[0][2], sample_chain(0, 1, 1, ["chorus"]).effects[0])
    print(f"{len(clips)} train recordings x {args.settings} settings, first {args.seconds:g} s each")
    print(f"{'effect':<11} {'median dB':>9} {'min dB':>8} {'pedalboard ms':>13} {'torch ms':>9}  required")
    rows = {"gain": gain_rows(clips, args.settings, np.random.default_rng(args.seed))}
    rows.update({name: effect_rows(name, clips, args.settings, args.seed) for name in EFFECTS})
    for name, (scores, board_times, torch_times) in rows.items():
        required = REQUIRED_DB.get(name)
        verdict = "-" if required is None else ("ok" if min(scores) >= required else "FAIL") + f" (>= {required:g})"
        print(
            f"{name:<11} {np.median(scores):9.1f} {min(scores):8.1f} {1e3 * np.mean(board_times):13.2f} "
            f"{1e3 * np.mean(torch_times):9.2f}  {verdict}"
        )


if __name__ == "__main__":
    main()

"""Material for an accelerator campaign: a carried bundle (prepared on the CPU) and removal batches made from it
on the accelerator with torch alone.

The accelerator machine has torch but neither soundfile nor pedalboard, so everything that needs them happens here,
on the CPU, before the trip: :func:`prepare_bundle` reads the dry recordings and measured rooms of the shared data
set (``train`` and ``eval`` split apart), adds synthetic rooms (:mod:`deconstruct.train.rooms`) and renders Freeverb
impulse responses with pedalboard (Freeverb is linear and time-invariant, so its wet impulse response convolved
with the dry signal *is* the plugin's wet output; the catalog's dry gain is ``1 - wet_level``). The bundle is one
``.pt`` file of float16 tensors (:func:`save_bundle`, :func:`load_bundle`, well under the 64 MiB carried).

:class:`RemovalBatches` then draws single-effect removal items on the device: random excerpts of the dry
recordings at random levels, through reverb (Freeverb or room responses, FFT convolution) or chorus (the catalog's
JUCE chorus in torch, with an ideal LFO phase), mixed with items lacking the effect (target = input). Deterministic
from a seed. This module imports neither soundfile nor pedalboard at import time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["EFFECTS", "RemovalBatches", "load_bundle", "prepare_bundle", "save_bundle", "shipped_removal_snapshot",
           "synthetic_bundle"]

SAMPLE_RATE = 44100
EFFECTS = ("reverb", "chorus")
REVERB_WET = (0.2, 0.6)
CHORUS = {"rate_hz": (0.5, 3.0), "depth": (0.2, 0.8), "mix": (0.3, 0.7), "centre_delay_ms": 7.0,
          "max_modulation_ms": 20.0}
LEVEL_DB = (-30.0, -10.0)
IR_SECONDS = 4.5


# --- the bundle (CPU side) ------------------------------------------------------------------------------------


def _mono(samples: torch.Tensor) -> torch.Tensor:
    return samples.mean(0) if samples.dim() == 2 else samples


def freeverb_irs(room_sizes: list[float], sample_rate: int = SAMPLE_RATE, seconds: float = IR_SECONDS
                 ) -> list[torch.Tensor]:
    """Wet-only Freeverb impulse responses (pedalboard, catalog damping and width), mono ``[taps]`` each."""
    import pedalboard

    from deconstruct.effects.catalog import effect_spec

    fixed = effect_spec("reverb").fixed
    impulse = np.zeros((1, int(seconds * sample_rate)), dtype=np.float32)
    impulse[0, 0] = 1.0
    out = []
    for room in room_sizes:
        board = pedalboard.Reverb(room_size=float(room), damping=fixed["damping"], wet_level=1.0, dry_level=0.0,
                                  width=fixed["width"])
        out.append(torch.from_numpy(board(impulse, float(sample_rate), reset=True)[0].copy()))
    return out


def shipped_removal_snapshot() -> dict[str, Any]:
    """The shipped default removal model as the bundle carries it: ``{"name", "config", "state_dict"}`` (the
    built-in signal-processing model has no weights)."""
    from deconstruct.errors import ModelError
    from deconstruct.models.registry import default_model, resolve

    try:
        resolved = resolve("removal", None)
        return {"name": resolved.name, "config": dict(resolved.config), "state_dict": dict(resolved.state_dict)}
    except ModelError:  # the built-in default
        from deconstruct.removal.remover import dsp_only_config

        return {"name": default_model("removal"), "config": dsp_only_config(SAMPLE_RATE), "state_dict": {}}


def prepare_bundle(root: str | Path | None = None, synthetic_rooms: int = 24, freeverb_train: int = 16,
                   freeverb_eval: int = 8, max_dry_s: float = 60.0, seed: int = 0) -> dict[str, Any]:
    """The campaign's material from the shared data set (``train`` and ``eval`` kept apart).

    Args:
        root: the shared data folder (``DECONSTRUCT_SHARED_DATA``, else ``../shared/data``, when ``None``).
        synthetic_rooms: synthetic room responses added to the ``train`` rooms.
        freeverb_train: Freeverb responses on an even grid of room sizes over the catalog range (training).
        freeverb_eval: Freeverb responses at random room sizes (evaluation).
        max_dry_s: longest excerpt kept per recording, s (bounds the bundle's size).
        seed: seed of the synthetic rooms and the evaluation room sizes.

    Raises:
        deconstruct.errors.InputError: no shared data folder.
    """
    from deconstruct.audio import load_audio, resample
    from deconstruct.data.datasets.effected import train_dry_files, train_rir_files
    from deconstruct.effects.rir import load_rir
    from deconstruct.train.rooms import synthetic_rir_bank
    from eval.removal_suite import eval_split_files

    def dry(path: Path) -> torch.Tensor:
        audio = load_audio(path)
        samples = _mono(resample(audio.samples, audio.sample_rate, SAMPLE_RATE))
        return samples[: int(max_dry_s * SAMPLE_RATE)].to(torch.float16)

    def room(path: Path) -> torch.Tensor:
        return load_rir(path, SAMPLE_RATE)[0, : int(IR_SECONDS * SAMPLE_RATE)].to(torch.float16)

    eval_files, eval_rirs = eval_split_files(root)
    rng = np.random.default_rng([seed, 11])
    train_sizes = np.linspace(0.3, 1.0, freeverb_train).tolist()
    eval_sizes = rng.uniform(0.3, 1.0, freeverb_eval).tolist()
    return {
        "sample_rate": SAMPLE_RATE,
        "source": f"shared data set at {root or 'the default location'} (train and eval splits kept apart)",
        "train_dry": [dry(p) for p in train_dry_files(root) if not p.name.startswith("Stereo")],
        "eval_dry": [dry(p) for p in eval_files],
        "train_rooms": [room(p) for p in train_rir_files(root)]
        + [r[0].to(torch.float16) for r in synthetic_rir_bank(synthetic_rooms, seed, SAMPLE_RATE)],
        "eval_rooms": [room(p) for p in eval_rirs],
        "train_freeverb": {"room_size": train_sizes, "irs": [h.half() for h in freeverb_irs(train_sizes)]},
        "eval_freeverb": {"room_size": eval_sizes, "irs": [h.half() for h in freeverb_irs(eval_sizes)]},
        "shipped_removal": shipped_removal_snapshot(),
    }


def synthetic_bundle(seed: int = 0, seconds: float = 6.0) -> dict[str, Any]:
    """A bundle made of synthesised material (harmonic tones with vibrato and noise bursts, synthetic rooms), for
    running the campaign's path where no shared data is available. Its numbers measure nothing real."""
    from deconstruct.train.rooms import synthetic_rir_bank

    rng = np.random.default_rng([seed, 23])
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE

    def tone() -> torch.Tensor:
        f0 = rng.uniform(90, 600)
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / SAMPLE_RATE
        wave = sum(rng.uniform(0.2, 1.0) / k * np.sin(k * phase) for k in range(1, 8))
        gate = (np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t) > -0.3).astype(float)
        burst = rng.standard_normal(t.size) * (np.sin(2 * np.pi * rng.uniform(1, 3) * t) > 0.9) * 0.3
        return torch.from_numpy((wave * gate + burst).astype(np.float32)).half()

    rooms = [r[0].half() for r in synthetic_rir_bank(12, seed, SAMPLE_RATE, max_s=1.0)]
    return {"sample_rate": SAMPLE_RATE, "source": "synthesised (no shared data found): numbers measure nothing real",
            "train_dry": [tone() for _ in range(6)], "eval_dry": [tone() for _ in range(3)],
            "train_rooms": rooms[:8], "eval_rooms": rooms[8:],
            "train_freeverb": {"room_size": [], "irs": []}, "eval_freeverb": {"room_size": [], "irs": []},
            "shipped_removal": shipped_removal_snapshot()}


def save_bundle(bundle: dict[str, Any], path: str | Path) -> Path:
    """Write a bundle (float16 tensors) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(bundle, path)
    return path


def load_bundle(path: str | Path) -> dict[str, Any]:
    """Read a bundle written by :func:`save_bundle` (tensors only: ``weights_only``)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def bundle_summary(bundle: dict[str, Any]) -> dict[str, Any]:
    """Counts and seconds of a bundle's parts (for the campaign record)."""
    seconds = lambda items: round(sum(x.numel() for x in items) / SAMPLE_RATE, 1)  # noqa: E731
    return {"source": bundle["source"], "train_dry_s": seconds(bundle["train_dry"]),
            "eval_dry_s": seconds(bundle["eval_dry"]), "train_rooms": len(bundle["train_rooms"]),
            "eval_rooms": len(bundle["eval_rooms"]), "train_freeverb": len(bundle["train_freeverb"]["irs"]),
            "eval_freeverb": len(bundle["eval_freeverb"]["irs"])}


# --- batches on the device ------------------------------------------------------------------------------------


def fft_convolve(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``x * h`` truncated to ``x``'s length. Shape: ``[B, T]`` and ``[B, taps]`` → ``[B, T]`` (float32)."""
    samples = x.shape[-1]
    size = 1 << (samples + h.shape[-1] - 1).bit_length()
    spectrum = torch.fft.rfft(x.float(), n=size) * torch.fft.rfft(h.float(), n=size)
    return torch.fft.irfft(spectrum, n=size)[..., :samples]


def torch_chorus(x: torch.Tensor, rate_hz: torch.Tensor, depth: torch.Tensor, mix: torch.Tensor,
                 sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """The catalog chorus (``deconstruct.effects.functional.chorus``) with the ideal LFO phase ``2π·rate·n/sr``
    instead of JUCE's float32 accumulation (no numba needed). Shape: ``[B, T]``, params ``[B]`` → ``[B, T]``."""
    batch, samples = x.shape
    n = torch.arange(samples, device=x.device, dtype=torch.float64)
    lfo = torch.sin(2.0 * math.pi * rate_hz[:, None].double() * n / sample_rate - math.pi)
    delay_ms = (CHORUS["max_modulation_ms"] * 0.5 * depth[:, None].double() * lfo
                + CHORUS["centre_delay_ms"]).clamp_min(1.0)
    delay = delay_ms * sample_rate / 1000.0
    whole = torch.floor(delay)
    fraction = (delay - whole).float()
    pad = int(whole.max().item()) + 2
    padded = torch.nn.functional.pad(x.float(), (pad, 0))
    index = n.long()[None] + pad - whole.long()
    newer = torch.gather(padded, -1, index)
    older = torch.gather(padded, -1, index - 1)
    wet = newer + fraction * (older - newer)
    return (1.0 - mix[:, None]) * x.float() + mix[:, None] * wet


class RemovalBatches:
    """Single-effect removal items drawn on ``device`` from a bundle's ``part`` (``"train"`` or ``"eval"``).

    Args:
        bundle: see :func:`prepare_bundle`.
        part: which recordings and rooms to use.
        effect: ``"reverb"`` or ``"chorus"``.
        seconds: item length, s.
        device: where the items are made.
        seed: the generator's seed (same seed, same items).
        remove_probability: share of items holding the effect (the rest: target = input).
        convolution_probability: share of reverbs with room responses (else Freeverb, when the bundle has it).

    ``batch(size) -> (wet [B, 1, T], target [B, 1, T], holds [B] bool)``.
    """

    def __init__(self, bundle: dict[str, Any], part: str, effect: str, seconds: float, device: torch.device | str,
                 seed: int, remove_probability: float = 0.7, convolution_probability: float = 0.5) -> None:
        if effect not in EFFECTS:
            raise ValueError(f"the campaign trains {', '.join(EFFECTS)}, not {effect!r}")
        self.device, self.effect = torch.device(device), effect
        self.samples = int(seconds * SAMPLE_RATE)
        self.dry = [x.float().to(self.device) for x in bundle[f"{part}_dry"] if x.numel() > 0]
        self.rooms = [x.float().to(self.device) for x in bundle[f"{part}_rooms"]]
        self.freeverb = [x.float().to(self.device) for x in bundle[f"{part}_freeverb"]["irs"]]
        if not self.dry:
            raise ValueError(f"the bundle has no {part} dry recordings")
        self.remove_probability = float(remove_probability)
        self.convolution_probability = float(convolution_probability) if self.freeverb else 1.0
        self.rng = np.random.default_rng([seed, 4049])

    def _excerpt(self) -> torch.Tensor:
        for _ in range(8):
            source = self.dry[int(self.rng.integers(len(self.dry)))]
            spare = source.numel() - self.samples
            start = int(self.rng.integers(0, spare + 1)) if spare > 0 else 0
            piece = source[start : start + self.samples]
            piece = torch.nn.functional.pad(piece, (0, self.samples - piece.numel()))
            rms = piece.square().mean().sqrt()
            if float(rms) > 1e-4:
                return piece * (10.0 ** (self.rng.uniform(*LEVEL_DB) / 20.0) / rms)
        return piece

    def _responses(self, count: int) -> torch.Tensor:
        taps = self.samples
        out = torch.zeros(count, taps, device=self.device)
        for row in range(count):
            rooms = self.rng.random() < self.convolution_probability or not self.freeverb
            pool = self.rooms if rooms else self.freeverb
            h = pool[int(self.rng.integers(len(pool)))][:taps]
            out[row, : h.numel()] = h
        return out

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dry = torch.stack([self._excerpt() for _ in range(size)])
        holds = torch.from_numpy(self.rng.random(size) < self.remove_probability).to(self.device)
        if self.effect == "reverb":
            wet_level = torch.from_numpy(self.rng.uniform(*REVERB_WET, size)).float().to(self.device)[:, None]
            wet = (1.0 - wet_level) * dry + wet_level * fft_convolve(dry, self._responses(size))
        else:
            draw = lambda low, high, log=False: torch.from_numpy(  # noqa: E731
                np.exp(self.rng.uniform(math.log(low), math.log(high), size)) if log
                else self.rng.uniform(low, high, size)).float().to(self.device)
            wet = torch_chorus(dry, draw(*CHORUS["rate_hz"], log=True), draw(*CHORUS["depth"]), draw(*CHORUS["mix"]))
        wet = torch.where(holds[:, None], wet, dry)
        peak = torch.maximum(wet.abs().amax(-1), dry.abs().amax(-1)).clamp_min(1e-9)
        scale = torch.where(peak > 0.99, 0.99 / peak, torch.ones_like(peak))[:, None]
        return (wet * scale)[:, None], (dry * scale)[:, None], holds


def describe(bundle: dict[str, Any]) -> str:
    """One line on the bundle, for logs."""
    return json.dumps(bundle_summary(bundle))

"""Fast rendering of effect chains for data synthesis (pedalboard) on ``[channels, samples]`` audio.

Every catalog effect renders through its pedalboard processor, except convolution reverb, which convolves with a
pre-processed measured response (:mod:`deconstruct.effects.rir`). The channel axis is never guessed: audio is
``[channels, samples]``; mono and stereo go through pedalboard as they are, more channels one channel at a time.
The output has the input's length (tails beyond the end are cut) and type (tensor in, tensor out; array in, array
out), at any sample rate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

from deconstruct.effects import functional
from deconstruct.effects.catalog import effect_spec
from deconstruct.effects.chain import Chain, Effect
from deconstruct.effects.rir import load_rir, match_channels

__all__ = ["apply_rir", "pedalboard_plugins", "render_chain", "render_effect"]

Samples = TypeVar("Samples", torch.Tensor, np.ndarray)


def pedalboard_plugins(effect: Effect) -> list:
    """The pedalboard processors that render ``effect`` (not available for convolution reverb).

    Raises:
        ValueError: for convolution reverb, which :func:`render_effect` convolves itself.
    """
    import pedalboard

    p, fixed = effect.params, effect_spec(effect.name).fixed
    if effect.name == "eq":
        plugins = []
        if "low_shelf_gain_db" in p:
            plugins.append(
                pedalboard.LowShelfFilter(p["low_shelf_cutoff_hz"], p["low_shelf_gain_db"], fixed["shelf_q"])
            )
        for band in (1, 2, 3):
            if f"peak{band}_gain_db" in p:
                plugins.append(
                    pedalboard.PeakFilter(p[f"peak{band}_center_hz"], p[f"peak{band}_gain_db"], p[f"peak{band}_q"])
                )
        if "high_shelf_gain_db" in p:
            plugins.append(
                pedalboard.HighShelfFilter(p["high_shelf_cutoff_hz"], p["high_shelf_gain_db"], fixed["shelf_q"])
            )
        return plugins
    if effect.name == "compressor":
        return [pedalboard.Compressor(p["threshold_db"], p["ratio"], p["attack_ms"], p["release_ms"])]
    if effect.name == "distortion":
        return [pedalboard.Distortion(p["drive_db"])]
    if effect.name == "chorus":
        return [pedalboard.Chorus(p["rate_hz"], p["depth"], fixed["centre_delay_ms"], fixed["feedback"], p["mix"])]
    if effect.name == "delay":
        return [pedalboard.Delay(p["delay_s"], p["feedback"], p["mix"])]
    if effect.name == "reverb":
        if effect.variant == "convolution":
            raise ValueError("convolution reverb is rendered by render_effect, not by a pedalboard plugin")
        return [
            pedalboard.Reverb(
                room_size=p["room_size"],
                damping=fixed["damping"],
                wet_level=p["wet_level"],
                dry_level=1.0 - p["wet_level"],
                width=fixed["width"],
            )
        ]
    if effect.name == "limiter":
        return [pedalboard.Limiter(p["threshold_db"], p["release_ms"])]
    raise ValueError(f"no renderer for {effect.name!r}")


def _as_array(samples: torch.Tensor | np.ndarray) -> np.ndarray:
    array = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    if array.ndim != 2:
        raise ValueError(f"audio must be [channels, samples], got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _like(array: np.ndarray, template: Samples) -> Samples:
    if isinstance(template, torch.Tensor):
        return torch.from_numpy(array).to(template.device)
    return array


def _run_pedalboard(plugins: Sequence, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Run processors on ``[channels, samples]`` without letting pedalboard guess the layout."""
    import pedalboard

    if not plugins:
        return audio
    channels, samples = audio.shape
    if channels > 2:
        return np.concatenate([_run_pedalboard(plugins, audio[c : c + 1], sample_rate) for c in range(channels)])
    padded = np.pad(audio, ((0, 0), (0, max(0, channels + 1 - samples))))  # samples > channels: unambiguous
    board = pedalboard.Pedalboard(list(plugins))
    return np.ascontiguousarray(board(padded, float(sample_rate), reset=True)[:, :samples], dtype=np.float32)


def _convolve(audio: np.ndarray, sample_rate: int, rir: str | os.PathLike, wet_level: float) -> np.ndarray:
    x = torch.from_numpy(audio)[None]
    response = match_channels(load_rir(rir, sample_rate), audio.shape[0])
    with torch.no_grad():
        return functional.convolution_reverb(x, response, wet_level)[0].numpy()


def render_effect(samples: Samples, sample_rate: int, effect: Effect) -> Samples:
    """Render one effect.

    Args:
        samples: ``[channels, samples]`` tensor or array (float32 output).
        sample_rate: Hz.
        effect: the setting to apply.

    Returns:
        The processed audio, same type, shape and device as ``samples``.
    """
    audio = _as_array(samples)
    if effect.name == "reverb" and effect.variant == "convolution":
        out = _convolve(audio, sample_rate, effect.rir, effect.params["wet_level"])
    else:
        out = _run_pedalboard(pedalboard_plugins(effect), audio, sample_rate)
    return _like(out, samples)


def render_chain(samples: Samples, sample_rate: int, chain: Chain) -> Samples:
    """Render a chain in its (catalog) order; an empty chain returns a float32 copy.

    Shape:
        samples: ``[channels, samples]`` → same (tensor in, tensor out; array in, array out).
    """
    audio = _as_array(samples).copy()
    for effect in chain:
        audio = _as_array(render_effect(audio, sample_rate, effect))
    return _like(audio, samples)


def apply_rir(
    samples: Samples, sample_rate: int, rir: str | os.PathLike, wet_level: float = 1.0
) -> Samples:
    """Convolve with a measured room impulse response file (any file: evaluation may use the ``eval`` rooms).

    Args:
        samples: ``[channels, samples]`` tensor or array.
        sample_rate: Hz of ``samples``; the response is resampled to it.
        rir: the impulse response file.
        wet_level: ``(1 - wet_level) x + wet_level (x * h)``; 1 gives the fully reverberant signal.

    Returns:
        The reverberant audio, same type and shape.
    """
    if not 0.0 <= wet_level <= 1.0:
        raise ValueError(f"wet_level must lie in [0, 1], got {wet_level}")
    return _like(_convolve(_as_array(samples), sample_rate, rir, wet_level), samples)

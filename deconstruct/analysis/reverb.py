"""Physical descriptors of a reverb: reverberation time (RT60, s) and direct-to-reverberant ratio (DRR, dB).

Both are measured on impulse responses, as ISO 3382 does for rooms:

- RT60 by Schroeder's backward integration (Schroeder, "New method of measuring reverberation time", JASA 1965):
  the energy decay curve ``EDC(t) = Σ_{τ≥t} h²(τ)``, in dB, is fitted by a line between -5 and -25 dB (T20) and
  extrapolated to -60 dB; when the decay does not reach -25 dB, between -5 and -15 dB (T10). A measured response's
  noise floor (mean power of its last 10 %) is subtracted before integrating, and integration stops where the
  smoothed energy falls to twice that floor (a simplified Lundeby truncation).
- DRR: the energy up to 2.5 ms after the direct sound (the strongest sample) over the energy after it.

RT60 belongs to the reverberant part alone (the room, or Freeverb's wet path): it does not depend on the wet
level. DRR is taken on the effect's whole response, dry path included: ``(1 - wet) δ + wet h``.

:func:`reverb_descriptors` gives the truth of a catalog reverb setting (training targets and evaluation truth);
the analyzer estimates the same two numbers with a regression head.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from deconstruct.effects.catalog import effect_spec
from deconstruct.effects.chain import Effect

__all__ = [
    "DIRECT_WINDOW_S",
    "RT60_RANGE_S",
    "DRR_RANGE_DB",
    "drr_db",
    "freeverb_response",
    "reverb_descriptors",
    "rt60_s",
]

DIRECT_WINDOW_S = 0.0025
RT60_RANGE_S = (0.05, 20.0)
"""The range RT60 estimates are normalised over (log scale)."""
DRR_RANGE_DB = (-30.0, 30.0)
"""The range DRR estimates are normalised over (linear)."""
_CALIBRATION_RATE = 44100
_ROOM_GRID = 29  # Freeverb room sizes 0.3 .. 1.0 in steps of 0.025
_FREEVERB_SECONDS = 10.0  # enough for T20 of the longest decay (RT60 about 9 s at room size 1)


def rt60_s(response: np.ndarray | torch.Tensor, sample_rate: int) -> float:
    """Reverberation time of an impulse response by Schroeder integration (T20, or T10 for short decays).

    Args:
        response: mono impulse response ``[taps]``.
        sample_rate: its rate, Hz.

    Returns:
        RT60 in seconds (``nan`` when the response has no decay to fit).
    """
    energy = np.asarray(response, dtype=np.float64).reshape(-1) ** 2
    if energy.size < 16 or energy.sum() <= 0:
        return float("nan")
    start = int(np.argmax(energy))
    energy = energy[start:]
    tail = energy[-max(1, energy.size // 10):]
    noise = float(tail.mean())
    smooth = np.convolve(energy, np.ones(max(1, sample_rate // 100)) / max(1, sample_rate // 100), mode="same")
    above = np.nonzero(smooth > 2.0 * noise)[0]
    stop = int(above[-1]) + 1 if above.size and noise > 0 else energy.size
    clean = np.clip(energy[:stop] - noise, 0.0, None)
    edc = np.cumsum(clean[::-1])[::-1]
    if edc[0] <= 0:
        return float("nan")
    edc_db = 10.0 * np.log10(np.maximum(edc / edc[0], 1e-30))
    for low in (-25.0, -15.0):
        region = np.nonzero((edc_db <= -5.0) & (edc_db >= low))[0]
        if region.size >= 8 and edc_db[region[-1]] <= low + 1.0:
            times = region / sample_rate
            slope = np.polyfit(times, edc_db[region], 1)[0]
            return float(-60.0 / slope) if slope < 0 else float("nan")
    return float("nan")


def drr_db(response: np.ndarray | torch.Tensor, sample_rate: int) -> float:
    """Direct-to-reverberant ratio of an impulse response, dB (energy up to 2.5 ms after the strongest sample
    over the energy after it; ``inf`` for a response without reverberant energy)."""
    energy = np.asarray(response, dtype=np.float64).reshape(-1) ** 2
    split = int(np.argmax(energy)) + round(DIRECT_WINDOW_S * sample_rate) + 1
    direct, reverberant = energy[:split].sum(), energy[split:].sum()
    if reverberant <= 0:
        return float("inf")
    return float(10.0 * math.log10(max(direct, 1e-30) / reverberant))


def freeverb_response(room_size: float, sample_rate: int = _CALIBRATION_RATE,
                      seconds: float = _FREEVERB_SECONDS) -> np.ndarray:
    """The wet-only mono impulse response of the catalog's algorithmic reverb (Freeverb) at ``room_size``."""
    import pedalboard

    fixed = effect_spec("reverb").fixed
    impulse = np.zeros((1, round(seconds * sample_rate)), dtype=np.float32)
    impulse[0, 0] = 1.0
    board = pedalboard.Reverb(room_size=float(room_size), damping=fixed["damping"], wet_level=1.0, dry_level=0.0,
                              width=fixed["width"])
    return board(impulse, float(sample_rate), reset=True)[0].astype(np.float64)


def _response_terms(wet: np.ndarray, sample_rate: int) -> tuple[float, float, float, float]:
    """RT60 of a wet-only response and the terms giving DRR at any wet level with the dry impulse at ``t = 0``:
    ``h[0]``, the energy inside the direct window and the energy after it."""
    split = round(DIRECT_WINDOW_S * sample_rate) + 1
    return rt60_s(wet, sample_rate), float(wet[0]), float(np.sum(wet[:split] ** 2)), float(np.sum(wet[split:] ** 2))


@lru_cache(maxsize=1)
def _freeverb_table() -> np.ndarray:
    """Rows ``(room_size, rt60_s, h0, early energy, late energy)`` over the room-size grid (computed once)."""
    rows = []
    for room in np.linspace(0.3, 1.0, _ROOM_GRID):
        rt60, h0, early, late = _response_terms(freeverb_response(float(room)), _CALIBRATION_RATE)
        rows.append((room, rt60, h0, early, late))
    return np.asarray(rows)


@lru_cache(maxsize=32)
def _rir_terms(path: str, sample_rate: int) -> tuple[float, np.ndarray]:
    from deconstruct.effects.rir import load_rir

    response = load_rir(path, sample_rate)[0].double().numpy()
    return rt60_s(response, sample_rate), response


def reverb_descriptors(effect: Effect, sample_rate: int = _CALIBRATION_RATE) -> dict[str, float]:
    """RT60 (s) and DRR (dB) of a catalog reverb setting, as rendered on a mono signal.

    Algorithmic reverb is measured on Freeverb's impulse response (a table over room sizes, interpolated);
    convolution reverb on the room response the renderer uses (:func:`deconstruct.effects.rir.load_rir`,
    first channel).

    Args:
        effect: a ``reverb`` :class:`~deconstruct.effects.chain.Effect`.
        sample_rate: rate at which convolution responses are measured, Hz.

    Returns:
        ``{"rt60_s": ..., "drr_db": ...}``.
    """
    if effect.name != "reverb":
        raise ValueError(f"reverb descriptors need a reverb effect, got {effect.name!r}")
    wet = effect.params["wet_level"]
    if effect.variant == "convolution":
        rt60, response = _rir_terms(str(effect.rir), int(sample_rate))
        whole = wet * response
        whole[0] += 1.0 - wet
        return {"rt60_s": rt60, "drr_db": drr_db(whole, sample_rate)}
    table = _freeverb_table()
    room = effect.params["room_size"]
    rt60, h0, early, late = (float(np.interp(room, table[:, 0], table[:, k])) for k in (1, 2, 3, 4))
    # The dry impulse at t=0 is the direct sound; Freeverb's wet path adds w·h within the direct window too.
    direct = (1.0 - wet) ** 2 + 2.0 * (1.0 - wet) * wet * h0 + wet**2 * early
    return {"rt60_s": rt60, "drr_db": float(10.0 * math.log10(direct / max(wet**2 * late, 1e-30)))}

"""Levels of upmix renders: true peak, power, loudness and the one common gain that sets them.

* **True peak** (ITU-R BS.1770-4 Annex 2): the signal is oversampled 4x by a polyphase interpolation filter and
  the largest absolute oversampled value is the true peak, in dBTP. The filter here is a 64-tap (16 per phase)
  Kaiser-windowed sinc (beta 8, cut-off at the input's Nyquist frequency), longer than the 48-tap example
  filter of the recommendation, which under-reads peaks near the Nyquist frequency; the 12.04 dB attenuation of
  the Annex exists for fixed-point arithmetic and is not needed in float. pyloudnorm (the project's loudness
  meter) has no true-peak meter, hence this one. :func:`true_peak_dbtp` measures an array,
  :class:`TruePeakMeter` the same thing block by block.
* **Power** of a loudspeaker render: the sum of squares over all channels, the LFE channel counted twice
  (as a mono signal reproduced by both loudspeakers of a stereo pair: ``P = sum_main x_i^2 + 2 x_LFE^2``). The
  input's power is the sum of squares of the stereo input (all of its channels).
* **Loudness**: BS.1770-4 integrated loudness (K-weighting, gating) with the channel weights of BS.1770-4
  Table 3 (1.41 for loudspeakers at 60..120 degrees azimuth below 30 degrees elevation, 1.0 for the others, LFE
  excluded); a binaural render is measured as a stereo signal.
* **Common gain and limiter** (:func:`common_gain_db`, :func:`limiter_gains`): one gain for all channels of a
  render brings its power (loudspeakers) or loudness (binaural; power when the render is too short to be gated)
  to the input's. Where the render's true peak would then exceed ``-1 dBTP`` (mastered songs peak near 0 dBTP,
  and an upmix gathers the centred parts of the mix into one loudspeaker, whose peaks then stand up to 3 dB above
  either input channel's), a look-ahead peak limiter lowers the peaks, by at most ``LIMITER_RANGE_DB``; beyond
  that range the common gain is lowered instead. Each channel is limited on its own peaks, so a centre peak
  leaves the other loudspeakers alone. The limiter's gain is the required gain (ceiling over the 4x oversampled
  peak envelope) passed through a moving minimum and then a moving average, both ``2 * LIMITER_HALF_WINDOW_S``
  long and centred, so it reaches every peak's required gain at the peak with 5 ms ramps and leaves the signal
  away from the peaks untouched. It works offline (the render is read back with margins), so it needs no delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np
from scipy.signal import firwin

from deconstruct.streaming import LevelMeter

OVERSAMPLING = 4
TAPS_PER_PHASE = 16
TRUE_PEAK_CEILING_DBTP = -1.0
SURROUND_WEIGHT = 1.41
LIMITER_RANGE_DB = 6.0
LIMITER_HALF_WINDOW_S = 0.0025
LIMITER_SAFETY_DB = 0.1  # the limiter aims this far below the ceiling (its gain is not constant across a peak)


def _interpolator() -> np.ndarray:
    taps = OVERSAMPLING * TAPS_PER_PHASE
    return firwin(taps, 1.0 / OVERSAMPLING, window=("kaiser", 8.0)) * OVERSAMPLING


_FILTER = _interpolator()
# Polyphase form: _PHASES[p, k] multiplies x[m - (TAPS_PER_PHASE - 1) + k] for the oversampled value 4 m + p.
_PHASES = np.ascontiguousarray(_FILTER.reshape(TAPS_PER_PHASE, OVERSAMPLING)[::-1].T, dtype=np.float32)
_HISTORY = TAPS_PER_PHASE - 1
_KERNEL: list = []


def _envelope_kernel():
    """The compiled polyphase loop (numba, cached on disk): per input position, max |oversampled| over channels."""
    if not _KERNEL:
        import numba

        @numba.njit(cache=True, fastmath=True)
        def envelope(x, phases):  # pragma: no cover - compiled
            channels, length = x.shape
            count, taps = phases.shape
            out = np.zeros(length - taps + 1, dtype=np.float32)
            for c in range(channels):
                for i in range(length - taps + 1):
                    peak = out[i]
                    for p in range(count):
                        acc = np.float32(0.0)
                        for k in range(taps):
                            acc += phases[p, k] * x[c, i + k]
                        if abs(acc) > peak:
                            peak = abs(acc)
                    out[i] = peak
            return out

        _KERNEL.append(envelope)
    return _KERNEL[0]


def oversampled_envelope(samples: np.ndarray) -> np.ndarray:
    """Per sample, the largest absolute 4x-oversampled value within +-7/8 sample, over all channels.

    Shape:
        ``[channels, T]`` -> ``[T]`` (float32). Samples outside the array count as zeros.
    """
    # Entry i of the kernel's output holds the oversampled values at input times i - 7.875 .. i - 7.125 (the
    # filter's group delay is 7.875 input samples): entries t + 7 and t + 8 surround time t.
    padded = np.pad(np.asarray(samples, dtype=np.float32), ((0, 0), (_HISTORY, 8)))
    raw = _envelope_kernel()(padded, _PHASES)
    return np.maximum(np.maximum(raw[7:-1], raw[8:]), np.abs(samples).max(axis=0).astype(np.float32))


def _db(value: float, power: bool = False) -> float:
    if value <= 0.0:
        return float("-inf")
    return (10.0 if power else 20.0) * math.log10(value)


def true_peak_dbtp(samples: np.ndarray) -> float:
    """True peak of ``samples`` ``[channels, T]`` (or ``[T]``) in dBTP (4x oversampled, BS.1770-4 Annex 2)."""
    data = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    if data.size == 0:
        return float("-inf")
    return _db(float(oversampled_envelope(data).max()))


class TruePeakMeter:
    """:func:`true_peak_dbtp` over consecutive blocks ``[channels, n]`` (the filter history is carried)."""

    def __init__(self, channels: int) -> None:
        self._history = np.zeros((channels, _HISTORY), dtype=np.float32)
        self._peak = 0.0

    def update(self, block: np.ndarray) -> None:
        if block.shape[1] == 0:
            return
        joined = np.concatenate([self._history, np.asarray(block, dtype=np.float32)], axis=1)
        # Every oversampled value whose filter support lies in ``joined`` (those before were counted earlier).
        raw = _envelope_kernel()(joined, _PHASES)
        self._peak = max(self._peak, float(raw.max()), float(np.abs(block).max()))
        self._history = joined[:, -_HISTORY:]

    def dbtp(self) -> float:
        return _db(self._peak)


def loudness_weights(azimuth_deg: np.ndarray, elevation_deg: np.ndarray, is_lfe: np.ndarray) -> np.ndarray:
    """BS.1770-4 channel weights: 1.41 at 60..120 degrees azimuth below 30 degrees elevation, LFE 0, else 1."""
    azimuth = np.abs(np.asarray(azimuth_deg, dtype=np.float64))
    lateral = (azimuth >= 60.0) & (azimuth <= 120.0) & (np.asarray(elevation_deg) < 30.0)
    return np.where(np.asarray(is_lfe), 0.0, np.where(lateral, SURROUND_WEIGHT, 1.0))


class WeightedLevelMeter(LevelMeter):
    """The streaming BS.1770-4 meter of :mod:`deconstruct.streaming` with explicit per-channel weights."""

    def __init__(self, sample_rate: int, weights: np.ndarray) -> None:
        super().__init__(sample_rate, len(weights))
        self.weights = np.asarray(weights, dtype=np.float64)

    def loudness_lufs(self) -> float:
        quarters = np.array(self._quarters)
        if len(quarters) < 4:
            return float("-inf")
        blocks = np.stack([quarters[i : i + 4].mean(0) for i in range(len(quarters) - 3)])
        with np.errstate(divide="ignore"):
            block_loudness = -0.691 + 10 * np.log10((blocks * self.weights).sum(-1))
        kept = blocks[block_loudness >= -70.0]
        if not len(kept):
            return float("-inf")
        relative = -0.691 + 10 * np.log10((kept.mean(0) * self.weights).sum()) - 10.0
        kept = blocks[(block_loudness >= -70.0) & (block_loudness >= relative)]
        if not len(kept):
            return float("-inf")
        return float(-0.691 + 10 * np.log10((kept.mean(0) * self.weights).sum()))


class SignalMeter:
    """Power, loudness and true peak of a multichannel signal, block by block.

    Args:
        sample_rate: in Hz.
        loudness_weights: BS.1770 weight per channel.
        power_weights: weight of each channel's sum of squares in the power (2 for the LFE, 1 otherwise).
    """

    def __init__(self, sample_rate: int, loudness_weights: np.ndarray, power_weights: np.ndarray) -> None:
        self.loudness = WeightedLevelMeter(sample_rate, loudness_weights)
        self.true_peak = TruePeakMeter(len(loudness_weights))
        self.power_weights = np.asarray(power_weights, dtype=np.float64)
        self.energy = 0.0
        self.samples = 0

    def update(self, block: np.ndarray) -> None:
        """Add ``[channels, n]``."""
        import torch

        self.energy += float(np.sum(self.power_weights * np.sum(block.astype(np.float64) ** 2, axis=1)))
        self.samples += block.shape[1]
        self.loudness.update(torch.from_numpy(np.ascontiguousarray(block)))
        self.true_peak.update(block)

    def power_db(self) -> float:
        """Mean power over time in dB (sum over channels of the mean square, weighted)."""
        return _db(self.energy / max(self.samples, 1), power=True)


def limiter_margin(sample_rate: int) -> int:
    """Samples of context :func:`limiter_gains` needs on each side of a block."""
    return 2 * int(round(LIMITER_HALF_WINDOW_S * sample_rate)) + 2 * TAPS_PER_PHASE


def limiter_gains(samples: np.ndarray, sample_rate: int, ceiling_dbtp: float, linked: bool = False
                  ) -> np.ndarray:
    """Look-ahead limiter gains ``[channels, T]`` (<= 1) that keep ``samples`` ``[channels, T]`` under the ceiling.

    Each channel is limited on its own peaks (``linked=False``, the default: a peak of the centre loudspeaker does
    not lower the others) or all by the loudest (``linked=True``). Exact for the inner part of a block read with
    :func:`limiter_margin` samples of context on each side.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    rows = [samples] if linked else [samples[c : c + 1] for c in range(samples.shape[0])]
    envelope = np.stack([oversampled_envelope(row) for row in rows]).astype(np.float64)
    ceiling = 10.0 ** ((ceiling_dbtp - LIMITER_SAFETY_DB) / 20.0)
    required = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    if required.min() < 1.0:
        size = 2 * int(round(LIMITER_HALF_WINDOW_S * sample_rate)) + 1
        held = minimum_filter1d(required, size, axis=-1, mode="nearest")
        required = np.minimum(uniform_filter1d(held, size, axis=-1, mode="nearest"), 1.0)
    return np.broadcast_to(required, samples.shape)


@dataclass(frozen=True)
class RenderLevels:
    """Levels of one written render, for ``report.json``.

    Attributes:
        gain_db: the common gain applied to every channel.
        limiter_db: the largest gain reduction of the peak limiter (0: it did nothing).
        loudness_lufs: BS.1770-4 integrated loudness of the written render.
        true_peak_dbtp: its true peak.
        power_db_vs_input: its power (LFE counted twice) relative to the input's, dB.
        loudness_lu_vs_input: its loudness relative to the input's, LU.
        input_loudness_lufs: the input's loudness.
        input_true_peak_dbtp: the input's true peak.
    """

    gain_db: float
    limiter_db: float
    loudness_lufs: float
    true_peak_dbtp: float
    power_db_vs_input: float
    loudness_lu_vs_input: float
    input_loudness_lufs: float
    input_true_peak_dbtp: float

    def to_dict(self) -> dict[str, Any]:
        return {key: round(value, 2) for key, value in self.__dict__.items()}


def common_gain_db(render: SignalMeter, reference: SignalMeter, binaural: bool,
                   ceiling_dbtp: float = TRUE_PEAK_CEILING_DBTP) -> tuple[float, bool]:
    """The common gain of a render measured before any gain, and whether the limiter must run.

    The gain matches the input's power (loudspeakers) or loudness (binaural, when both can be measured); where the
    true peak would then exceed the ceiling by more than ``LIMITER_RANGE_DB`` the gain is lowered by the rest.

    Returns:
        ``(gain_db, limit)``; 0 dB for a silent render.
    """
    loudness_match = reference.loudness.loudness_lufs() - render.loudness.loudness_lufs()
    match = reference.power_db() - render.power_db()
    if binaural and math.isfinite(loudness_match):
        match = loudness_match
    if not math.isfinite(match):
        return 0.0, False
    excess = render.true_peak.dbtp() + match - ceiling_dbtp
    if not math.isfinite(excess) or excess <= 0.0:
        return match, False
    return match - max(0.0, excess - LIMITER_RANGE_DB), True


def final_levels(written: SignalMeter, reference: SignalMeter, gain_db: float, limiter_db: float) -> RenderLevels:
    """The :class:`RenderLevels` of a render from the meter of what was written."""
    loudness = written.loudness.loudness_lufs()
    input_loudness = reference.loudness.loudness_lufs()
    return RenderLevels(
        gain_db=gain_db,
        limiter_db=limiter_db,
        loudness_lufs=loudness,
        true_peak_dbtp=written.true_peak.dbtp(),
        power_db_vs_input=written.power_db() - reference.power_db(),
        loudness_lu_vs_input=loudness - input_loudness,
        input_loudness_lufs=input_loudness,
        input_true_peak_dbtp=reference.true_peak.dbtp(),
    )


def finished_blocks(read: Callable[[int, int], np.ndarray], num_samples: int, sample_rate: int, gain_db: float,
                    limit: bool, ceiling_dbtp: float = TRUE_PEAK_CEILING_DBTP, block: int = 1 << 16
                    ) -> Iterator[tuple[np.ndarray, float]]:
    """Second pass: the render with its common gain and, when ``limit``, the limiter, block by block.

    Args:
        read: ``(start, stop) -> [channels, stop - start]`` of the first-pass render; spans reaching outside
            ``[0, num_samples)`` are zero there.
        num_samples: the render's length.

    Yields:
        ``(block [channels, n], largest limiter gain reduction in dB in this block)``.
    """
    gain = 10.0 ** (gain_db / 20.0)
    margin = limiter_margin(sample_rate) if limit else 0
    for start in range(0, num_samples, block):
        stop = min(start + block, num_samples)
        data = read(start - margin, stop + margin) * gain
        if not limit:
            yield data, 0.0
            continue
        gains = limiter_gains(data, sample_rate, ceiling_dbtp)[:, margin : margin + stop - start]
        yield data[:, margin : margin + stop - start] * gains, -20.0 * math.log10(max(float(gains.min()), 1e-12))


def float_file_reader(handle: BinaryIO, channels: int, num_samples: int) -> Callable[[int, int], np.ndarray]:
    """``read(start, stop)`` over a raw interleaved little-endian float32 file, zero outside it (reads only the
    span asked for, so memory stays flat)."""
    def read(start: int, stop: int) -> np.ndarray:
        out = np.zeros((channels, stop - start))
        low, high = max(start, 0), min(stop, num_samples)
        if high > low:
            handle.seek(4 * channels * low)
            data = np.fromfile(handle, dtype="<f4", count=(high - low) * channels).reshape(-1, channels)
            out[:, low - start : high - start] = data.T
        return out
    return read


def padded_reader(samples: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """``read(start, stop)`` over an in-memory ``[channels, T]`` array, zero outside it."""
    def read(start: int, stop: int) -> np.ndarray:
        out = np.zeros((samples.shape[0], stop - start))
        low, high = max(start, 0), min(stop, samples.shape[1])
        if high > low:
            out[:, low - start : high - start] = samples[:, low:high]
        return out
    return read

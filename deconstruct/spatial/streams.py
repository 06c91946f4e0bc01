"""Stateful block processors for rendering long songs in flat memory.

Every processor takes consecutive blocks ``[channels, n]`` and returns blocks of the same length, carrying what
it needs across block boundaries, so that processing a signal in blocks gives the same result (to float64
rounding) as processing it whole:

* :class:`FirStream`: multichannel FIR filtering (gains or impulse responses) by FFT convolution with an
  overlap-add tail carried to the next block.
* :class:`DelayLine`: a delay of a fixed number of samples (used to line up paths of different latency).
* :class:`StftStream`: short-time Fourier analysis, a per-frame operation, and overlap-add synthesis. Input
  blocks must be whole multiples of the hop; the output is the processed signal delayed by
  ``n_fft - hop`` samples (:attr:`StftStream.latency`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.signal import oaconvolve


class FirStream:
    """Block-wise ``out[o] = sum_c responses[c, o] * x[c]`` (convolution), exact across block boundaries.

    Args:
        responses: ``[inputs, outputs, taps]`` (``taps`` = 1 for plain gains).
    """

    def __init__(self, responses: np.ndarray) -> None:
        if responses.ndim != 3:
            raise ValueError(f"responses must be [inputs, outputs, taps], got shape {responses.shape}")
        self.responses = np.asarray(responses, dtype=np.float64)
        self.inputs, self.outputs, self.taps = self.responses.shape
        self._tail = np.zeros((self.outputs, self.taps - 1))
        # Only the (input, outputs) pairs with a non-zero response are convolved.
        self._active = [(c, np.flatnonzero(np.any(self.responses[c], axis=-1))) for c in range(self.inputs)]
        self._active = [(c, outputs) for c, outputs in self._active if outputs.size]

    def process(self, block: np.ndarray) -> np.ndarray:
        """Filter the next block ``[inputs, n]`` -> ``[outputs, n]`` (float64)."""
        if block.ndim != 2 or block.shape[0] != self.inputs:
            raise ValueError(f"expected a block [{self.inputs}, n], got shape {block.shape}")
        length = block.shape[1]
        if self.taps == 1:
            return np.einsum("co,ct->ot", self.responses[:, :, 0], block)
        full = np.zeros((self.outputs, length + self.taps - 1))
        for channel, outputs in self._active:
            if np.any(block[channel]):
                full[outputs] += oaconvolve(block[channel][None, :], self.responses[channel, outputs], axes=-1)
        full[:, : self.taps - 1] += self._tail
        self._tail = full[:, length:].copy()
        return full[:, :length]


class DelayLine:
    """Delays blocks ``[channels, n]`` by ``delay`` samples (zeros first)."""

    def __init__(self, channels: int, delay: int) -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        self._buffer = np.zeros((channels, delay))

    def process(self, block: np.ndarray) -> np.ndarray:
        joined = np.concatenate([self._buffer, block], axis=1)
        length = block.shape[1]
        self._buffer = joined[:, length:]
        return joined[:, :length]


FrameOperation = Callable[[np.ndarray], np.ndarray]
"""``spectra [frames, channels, bins] (complex) -> [frames, out_channels, bins]``."""


class StftStream:
    """STFT -> per-frame operation -> overlap-add, block by block.

    Square-root Hann analysis and synthesis windows at 75 % overlap (their product, a Hann window, sums to 2 over
    the overlapping frames, which the synthesis scale removes), so an identity operation reconstructs the input
    exactly, delayed by :attr:`latency` samples.

    Args:
        channels: input channels.
        out_channels: channels the operation returns.
        operation: the per-frame operation (called once per block with all its frames, in time order).
        n_fft: frame length in samples (even).
        hop: hop in samples (``n_fft / 4``).
    """

    def __init__(self, channels: int, out_channels: int, operation: FrameOperation, n_fft: int = 2048,
                 hop: int = 512) -> None:
        if n_fft != 4 * hop:
            raise ValueError(f"the STFT needs 75 % overlap: n_fft = 4 * hop, got {n_fft} and {hop}")
        self.channels, self.out_channels, self.operation = channels, out_channels, operation
        self.n_fft, self.hop = n_fft, hop
        self.window = np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft))  # periodic Hann
        self._pending = np.zeros((channels, n_fft - hop))
        self._accumulated = np.zeros((out_channels, n_fft - hop))

    @property
    def latency(self) -> int:
        """Output delay in samples."""
        return self.n_fft - self.hop

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def process(self, block: np.ndarray) -> np.ndarray:
        """Next block ``[channels, n]`` (``n`` a multiple of the hop) -> ``[out_channels, n]`` float64."""
        length = block.shape[1]
        if length % self.hop:
            raise ValueError(f"block length {length} is not a multiple of the hop {self.hop}")
        joined = np.concatenate([self._pending, block], axis=1)
        frames = length // self.hop
        self._pending = joined[:, length:]
        if frames == 0:
            return np.zeros((self.out_channels, 0))
        index = np.arange(frames)[:, None] * self.hop + np.arange(self.n_fft)[None, :]
        spectra = np.fft.rfft(joined[:, index].transpose(1, 0, 2) * self.window, axis=-1)  # [frames, C, bins]
        processed = self.operation(spectra)
        if processed.shape != (frames, self.out_channels, self.bins):
            raise ValueError(f"the frame operation returned {processed.shape}, "
                             f"expected {(frames, self.out_channels, self.bins)}")
        pieces = np.fft.irfft(processed, n=self.n_fft, axis=-1) * (self.window / 2.0)  # [frames, O, n_fft]
        out = np.zeros((self.out_channels, length + self.n_fft - self.hop))
        out[:, : self.n_fft - self.hop] = self._accumulated
        for frame in range(frames):
            start = frame * self.hop
            out[:, start : start + self.n_fft] += pieces[frame]
        self._accumulated = out[:, length:].copy()
        return out[:, :length]

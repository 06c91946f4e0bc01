"""Block-wise reading, overlap-add processing and writing, so long songs run in flat memory.

A *reader* yields ``[channels, samples]`` blocks of a tensor or of a file; :func:`overlap_add` runs a function on
overlapping chunks and crossfades them (linear ramps summing to one) into a stream of finished blocks; a
:class:`LevelMeter` measures loudness (ITU-R BS.1770-4 with gating, as pyloudnorm) and peak on the fly.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np
import soundfile as sf
import torch

from deconstruct.audio import MAX_CHANNELS, load_audio
from deconstruct.errors import InputError


class BlockReader(Protocol):
    """Random-access source of ``[channels, samples]`` float32 blocks."""

    sample_rate: int
    channels: int
    num_samples: int

    def read(self, start: int, stop: int) -> torch.Tensor: ...


class TensorReader:
    """Reads blocks of an in-memory ``[channels, samples]`` tensor."""

    def __init__(self, samples: torch.Tensor, sample_rate: int) -> None:
        self.samples, self.sample_rate = samples, int(sample_rate)
        self.channels, self.num_samples = int(samples.shape[0]), int(samples.shape[1])

    def read(self, start: int, stop: int) -> torch.Tensor:
        return self.samples[:, start:stop]


class FileReader:
    """Reads blocks of an audio file without loading it whole (stem files are decoded whole: ffmpeg).

    Raises:
        InputError: the same checks as :func:`deconstruct.audio.load_audio`, non-finite samples per block.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._memory: TensorReader | None = None
        self._file: sf.SoundFile | None = None
        if self.path.name.lower().endswith(".stem.mp4") or not self.path.is_file():
            audio = load_audio(self.path)
            self._memory = TensorReader(audio.samples, audio.sample_rate)
            self.sample_rate, self.channels, self.num_samples = audio.sample_rate, audio.channels, audio.num_samples
            return
        try:
            self._file = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, TypeError) as error:
            raise InputError(f"{self.path}: not a readable audio file ({str(error).splitlines()[0]}); "
                             "use WAV, FLAC, OGG, MP3 or .stem.mp4") from None
        self.sample_rate, self.channels = int(self._file.samplerate), int(self._file.channels)
        self.num_samples = int(self._file.frames)
        if self.channels > MAX_CHANNELS:
            raise InputError(f"{self.path}: {self.channels} channels; deconstruct takes mono or stereo input, "
                             "downmix it to stereo first")
        if self.num_samples <= 0:
            raise InputError(f"{self.path}: the file holds no samples (zero length); give a file with audio in it")

    def read(self, start: int, stop: int) -> torch.Tensor:
        if self._memory is not None:
            return self._memory.read(start, stop)
        assert self._file is not None
        self._file.seek(start)
        data = self._file.read(stop - start, dtype="float32", always_2d=True)
        if not np.isfinite(data).all():
            raise InputError(f"{self.path}: the audio contains NaN or infinite samples; repair or re-export the file")
        return torch.from_numpy(np.ascontiguousarray(data.T))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def chunk_bounds(total: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of chunks of ``chunk`` samples overlapping by ``overlap``, covering ``total`` samples."""
    if chunk <= overlap:
        raise ValueError("chunk must be longer than overlap")
    bounds, start = [], 0
    while True:
        stop = min(start + chunk, total)
        bounds.append((start, stop))
        if stop >= total:
            return bounds
        start = stop - overlap


def overlap_add(reader: BlockReader, process: Callable[[torch.Tensor], torch.Tensor], chunk: int,
                overlap: int) -> Iterator[torch.Tensor]:
    """Run ``process`` on overlapping chunks and yield the crossfaded output in order.

    Args:
        reader: the input.
        process: ``[C, n] → [..., n]`` (same length; leading axes free, e.g. ``[S, C, n]``).
        chunk: chunk length (samples).
        overlap: crossfade length (samples).

    Yields:
        finished output blocks ``[..., m]`` whose lengths add up to ``reader.num_samples``.
    """
    total = reader.num_samples
    bounds = chunk_bounds(total, chunk, overlap)
    ramp = torch.linspace(0.0, 1.0, overlap + 2)[1:-1] if overlap else torch.zeros(0)
    pending: torch.Tensor | None = None
    for start, stop in bounds:
        out = process(reader.read(start, stop))
        length = stop - start
        weight = torch.ones(length)
        if start > 0:
            weight[:overlap] = ramp
        if stop < total:
            weight[length - overlap:] = 1.0 - ramp
        out = out * weight
        if pending is not None:
            out[..., :overlap] += pending
        if stop < total:
            pending = out[..., length - overlap:].clone()
            yield out[..., :length - overlap]
        else:
            yield out


class LevelMeter:
    """Streaming integrated loudness (LUFS, ITU-R BS.1770-4 gating) and sample peak (dBFS).

    Uses pyloudnorm's K-weighting filters with carried filter state, 400 ms blocks at 75 % overlap.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        import pyloudnorm
        meter = pyloudnorm.Meter(sample_rate)
        self._filters = [(f.b, f.a) for f in meter._filters.values()]
        self._states = [np.zeros((channels, len(a) - 1)) for b, a in self._filters]
        self.sample_rate, self.channels = sample_rate, channels
        self._step = int(round(0.1 * sample_rate))
        self._carry = np.zeros((channels, 0))
        self._quarters: list[np.ndarray] = []  # mean square per channel of each 100 ms step
        self._peak = 0.0

    def update(self, block: torch.Tensor) -> None:
        """Add the next ``[channels, n]`` block."""
        from scipy.signal import lfilter

        data = block.detach().cpu().double().numpy()
        if data.size:
            self._peak = max(self._peak, float(np.abs(data).max()))
        for index, (b, a) in enumerate(self._filters):
            data, self._states[index] = lfilter(b, a, data, axis=-1, zi=self._states[index])
        data = np.concatenate([self._carry, data], axis=-1)
        whole = data.shape[-1] // self._step
        if whole:
            squares = (data[:, :whole * self._step] ** 2).reshape(self.channels, whole, self._step).mean(-1)
            self._quarters.extend(squares.T)
        self._carry = data[:, whole * self._step:]

    def peak_dbfs(self) -> float:
        return 20.0 * math.log10(self._peak) if self._peak > 0 else float("-inf")

    def loudness_lufs(self) -> float:
        """Gated integrated loudness so far; ``-inf`` for silence or less than 400 ms."""
        quarters = np.array(self._quarters)
        if len(quarters) < 4:
            return float("-inf")
        blocks = np.stack([quarters[i:i + 4].mean(0) for i in range(len(quarters) - 3)])  # [blocks, C]
        weights = np.ones(self.channels) if self.channels < 3 else np.array([1, 1, 1, 0, 1.41, 1.41])[:self.channels]
        with np.errstate(divide="ignore"):
            block_loudness = -0.691 + 10 * np.log10((blocks * weights).sum(-1))
        kept = blocks[block_loudness >= -70.0]
        if not len(kept):
            return float("-inf")
        relative = -0.691 + 10 * np.log10((kept.mean(0) * weights).sum()) - 10.0
        kept = blocks[(block_loudness >= -70.0) & (block_loudness >= relative)]
        if not len(kept):
            return float("-inf")
        return float(-0.691 + 10 * np.log10((kept.mean(0) * weights).sum()))

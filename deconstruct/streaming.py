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

from deconstruct.audio import check_header, load_audio
from deconstruct.errors import InputError, OutputError


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
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError) as error:
            raise InputError(f"{self.path}: not a readable audio file ({(str(error).splitlines() or ['?'])[0]}); "
                             "use WAV, FLAC, OGG, MP3 or .stem.mp4") from None
        try:
            check_header(self._file, self.path)
        except InputError:
            self._file.close()
            raise
        self.sample_rate, self.channels = int(self._file.samplerate), int(self._file.channels)
        self.num_samples = int(self._file.frames)
        if self.num_samples <= 0:
            raise InputError(f"{self.path}: the file holds no samples (zero length); give a file with audio in it")

    def read(self, start: int, stop: int) -> torch.Tensor:
        if self._memory is not None:
            return self._memory.read(start, stop)
        assert self._file is not None
        try:
            self._file.seek(start)
            data = self._file.read(stop - start, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as error:
            raise InputError(f"{self.path}: cannot decode the audio at sample {start} "
                             f"({(str(error).splitlines() or ['?'])[0]}); the file is corrupt, re-export it") from None
        if len(data) < stop - start:
            missing = stop - start - len(data)
            if missing > max(self.sample_rate, self.num_samples // 100):
                raise InputError(f"{self.path}: the audio ends {missing} samples before the length its header "
                                 f"claims ({self.num_samples}); the file is truncated or corrupt, re-export it")
            data = np.pad(data, ((0, missing), (0, 0)))  # decoders' length estimates may be a little long
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


WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_SUBFORMAT_TAIL = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_* after the 2-byte tag
BIT_DEPTHS = ("float32", "24", "16")


class WavWriter:
    """Writes ``[channels, n]`` blocks to a WAV file as they come: float32, or 16/24-bit PCM.

    The header is written first with zero sizes and completed on :meth:`close`. Files with a ``channel_mask``
    (or more than two channels) are ``WAVE_FORMAT_EXTENSIBLE``. Write errors are the operating system's
    (``OSError``, e.g. ``ENOSPC`` on a full disk). PCM blocks must already be scaled and dithered
    (:func:`convert_wav` does it); values are rounded and clipped to the integer range here.

    Args:
        path: the file (created or truncated).
        sample_rate: Hz.
        channels: channel count.
        bit_depth: ``"float32"``, ``"24"`` or ``"16"``.
        channel_mask: WAVE ``dwChannelMask`` (0: none).
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int, bit_depth: str = "float32",
                 channel_mask: int = 0) -> None:
        if bit_depth not in BIT_DEPTHS:
            raise ValueError(f"unknown bit depth {bit_depth!r}; use one of {', '.join(BIT_DEPTHS)}")
        self.path, self.sample_rate, self.channels = Path(path), int(sample_rate), int(channels)
        self.bit_depth, self.channel_mask = bit_depth, int(channel_mask)
        self.bits = 32 if bit_depth == "float32" else int(bit_depth)
        self.frames = 0
        self._handle = open(self.path, "wb")
        self._handle.write(self._header())

    def _header(self) -> bytes:
        import struct

        width = self.bits // 8
        block_align = width * self.channels
        tag = WAVE_FORMAT_IEEE_FLOAT if self.bit_depth == "float32" else WAVE_FORMAT_PCM
        extensible = bool(self.channel_mask) or self.channels > 2
        common = struct.pack("<HHIIHH", WAVE_FORMAT_EXTENSIBLE if extensible else tag, self.channels,
                             self.sample_rate, self.sample_rate * block_align, block_align, self.bits)
        if extensible:
            body = common + struct.pack("<HHI", 22, self.bits, self.channel_mask) + struct.pack("<H", tag) \
                + _SUBFORMAT_TAIL
        else:
            body = common + (struct.pack("<H", 0) if tag == WAVE_FORMAT_IEEE_FLOAT else b"")
        fmt = b"fmt " + struct.pack("<I", len(body)) + body
        data_bytes = self.frames * block_align
        fact = b"fact" + struct.pack("<II", 4, self.frames) if self.bit_depth == "float32" else b""
        riff = 4 + len(fmt) + len(fact) + 8 + data_bytes + (data_bytes & 1)
        return b"RIFF" + struct.pack("<I", riff) + b"WAVE" + fmt + fact + b"data" + struct.pack("<I", data_bytes)

    def write(self, block: torch.Tensor | np.ndarray) -> None:
        """Append a ``[channels, n]`` block (float; PCM depths: already scaled to ±1 full scale and dithered)."""
        data = block.detach().cpu().numpy() if isinstance(block, torch.Tensor) else np.asarray(block)
        if data.ndim != 2 or data.shape[0] != self.channels:
            raise ValueError(f"blocks must be [{self.channels}, n], got {data.shape}")
        frames = data.T
        if self.bit_depth == "float32":
            raw = np.ascontiguousarray(frames, dtype="<f4").tobytes()
        else:
            scale = float(2 ** (self.bits - 1))
            ints = np.ascontiguousarray(np.clip(np.round(frames.astype(np.float64) * scale), -scale, scale - 1),
                                        dtype="<i4")
            raw = ints.astype("<i2").tobytes() if self.bits == 16 else \
                ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        if (self.frames + data.shape[1]) * self.channels * self.bits // 8 > 0xFFFFFFF0:
            raise OutputError(f"{self.path.name}: the audio exceeds the 4 GiB limit of a WAV file; "
                              "write a shorter song or float32 in parts")
        self._handle.write(raw)
        self.frames += data.shape[1]

    def close(self) -> None:
        """Complete the header (sizes) and close the file."""
        if self._handle.closed:
            return
        if (self.frames * self.channels * self.bits // 8) & 1:
            self._handle.write(b"\0")
        self._handle.seek(0)
        self._handle.write(self._header())
        self._handle.close()

    def __enter__(self) -> "WavWriter":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._handle.close()


def pcm_limit(bit_depth: str) -> float:
    """The largest sample value a ``bit_depth`` PCM file holds, with room for the TPDF dither (±2 LSB)."""
    scale = float(2 ** (int(bit_depth) - 1))
    return (scale - 3.0) / scale


def pcm_gain_db(peak: float, bit_depth: str, headroom_db: float | None = None) -> float:
    """The gain (dB, ≤ 0) that lets audio peaking at ``peak`` (linear) be written as ``bit_depth`` PCM unclipped.

    Args:
        peak: the largest absolute sample value of everything the gain applies to.
        bit_depth: ``"24"`` or ``"16"`` (``"float32"``: always 0).
        headroom_db: a gain chosen by hand (``-headroom_db``); ``None``: 0 dB when nothing clips, else the
            largest gain (in 0.01 dB steps) that keeps ``peak`` under full scale.

    Raises:
        OutputError: the hand-chosen headroom still clips.
    """
    if bit_depth == "float32":
        return 0.0
    limit = pcm_limit(bit_depth)
    if headroom_db is not None:
        gain = -abs(float(headroom_db))
        if peak * 10.0 ** (gain / 20.0) > limit:
            needed = 20.0 * math.log10(peak / limit)
            raise OutputError(f"--headroom-db {abs(headroom_db):g} is not enough: the outputs peak at "
                              f"{20 * math.log10(peak):+.2f} dBFS; give at least {math.ceil(needed * 100) / 100:g}, "
                              "or leave --headroom-db out to choose it automatically")
        return gain
    if peak <= limit:
        return 0.0
    return math.floor(20.0 * math.log10(limit / peak) * 100.0) / 100.0


def convert_wav(source: str | os.PathLike, target: str | os.PathLike, bit_depth: str, gain_db: float = 0.0,
                channel_mask: int = 0, seed: int = 0, block: int = 1 << 18,
                progress: Callable[[int], None] | None = None) -> None:
    """Write a float WAV file as ``bit_depth`` PCM, block by block: gain, TPDF dither, integer samples.

    This is the one PCM conversion of every output file (stems, dry stems, renders).

    Args:
        source: a float WAV file (any channel count).
        target: the PCM file to write.
        bit_depth: ``"24"`` or ``"16"``.
        gain_db: applied before dithering (choose it with :func:`pcm_gain_db` so nothing clips).
        channel_mask: WAVE channel mask of the target (0: none).
        seed: dither noise seed (the output is deterministic).
        block: frames per block.
        progress: called with the frames done after each block.

    Raises:
        OutputError: the gained audio would clip (more than the dither's room above full scale).
    """
    gain = 10.0 ** (gain_db / 20.0)
    scale = float(2 ** (int(bit_depth) - 1))
    rng = np.random.default_rng(seed)
    with sf.SoundFile(str(source)) as reader, WavWriter(target, reader.samplerate, reader.channels, bit_depth,
                                                        channel_mask) as writer:
        while True:
            data = reader.read(block, dtype="float64", always_2d=True)
            if not len(data):
                break
            data = data * gain
            peak = float(np.abs(data).max())
            if peak > (scale - 1.0) / scale:
                raise OutputError(f"{Path(target).name}: peaks at {20 * math.log10(peak):+.2f} dBFS and would clip "
                                  f"as {bit_depth}-bit; write float32 (the default) or give --headroom-db")
            noise = (rng.random(data.shape) - rng.random(data.shape)) / scale
            writer.write((data + noise).T)
            if progress:
                progress(len(data))


class PeakMeter:
    """Running sample peak of a stream of blocks (linear and dBFS)."""

    def __init__(self) -> None:
        self.peak = 0.0

    def update(self, block: torch.Tensor | np.ndarray) -> None:
        if block.shape[-1]:
            self.peak = max(self.peak, float(abs(block).max()))

    def peak_dbfs(self) -> float:
        return 20.0 * math.log10(self.peak) if self.peak > 0 else float("-inf")


def read_blocks(reader: BlockReader, block: int) -> Iterator[torch.Tensor]:
    """Consecutive ``[C, ≤ block]`` blocks of a whole reader."""
    for start in range(0, reader.num_samples, block):
        yield reader.read(start, min(start + block, reader.num_samples))


class ResampledReader:
    """A :class:`BlockReader` at another sample rate: each read resamples just the input it needs.

    Reads start on the input's resampling grid (multiples of ``from_sr / gcd`` input samples) with a few grid steps
    of context on each side, which are cut off again, so block-wise reads equal the whole signal's resampling
    (torchaudio's windowed sinc) up to float rounding. At the same rate it is the input reader itself.
    """

    def __init__(self, reader: BlockReader, sample_rate: int, context: int = 64) -> None:
        self.reader, self.sample_rate, self.channels = reader, int(sample_rate), reader.channels
        divisor = math.gcd(int(reader.sample_rate), self.sample_rate)
        self._step_in, self._step_out = reader.sample_rate // divisor, self.sample_rate // divisor
        self._pad = max(2, -(-context // self._step_in))  # grid steps of context
        self.num_samples = -(-reader.num_samples * self.sample_rate // reader.sample_rate)

    def read(self, start: int, stop: int) -> torch.Tensor:
        if self._step_in == self._step_out:
            return self.reader.read(start, stop)
        from deconstruct.audio import resample

        first = max(start // self._step_out - self._pad, 0)
        last = min((-(-stop // self._step_out) + self._pad) * self._step_in, self.reader.num_samples)
        block = resample(self.reader.read(first * self._step_in, last), self.reader.sample_rate, self.sample_rate)
        offset = first * self._step_out
        return block[:, start - offset:stop - offset]

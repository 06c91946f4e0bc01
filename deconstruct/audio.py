"""The Audio value type, loading, saving, resampling and level measurement.

Audio tensors are ``[channels, samples]`` float32 (batched: ``[batch, channels, samples]``); the channel axis is
never guessed. Loading goes through soundfile (WAV, FLAC, OGG, MP3) and ffmpeg for NI stem files
(``.stem.mp4``, the MUSDB18 format). Writing is float32 WAV by default, 16/24-bit on request (peak-checked and
TPDF-dithered), always through a temporary name renamed into place so an interrupted write never leaves a file
that looks complete.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from deconstruct.errors import InputError, OutputError
from deconstruct.files import atomic_path
from deconstruct.stem_files import STEM_STREAMS, decode_stem_stream, is_stem_file  # noqa: F401 - STEM_STREAMS re-exported

MAX_CHANNELS = 2
SUBTYPES = {"float32": "FLOAT", "24": "PCM_24", "16": "PCM_16"}
STEM_RATE = 44100  # .stem.mp4 files are decoded at this rate (MUSDB18's)


@dataclass(frozen=True)
class Audio:
    """A piece of audio.

    Attributes:
        samples: float32 tensor shaped ``[channels, samples]``, nominal full scale 1.0.
        sample_rate: samples per second (Hz).
    """

    samples: torch.Tensor
    sample_rate: int

    def __post_init__(self) -> None:
        if not isinstance(self.samples, torch.Tensor) or self.samples.dim() != 2:
            shape = tuple(self.samples.shape) if hasattr(self.samples, "shape") else type(self.samples).__name__
            raise ValueError(f"Audio.samples must be a 2-D tensor [channels, samples], got {shape}")
        if int(self.sample_rate) <= 0:
            raise ValueError(f"Audio.sample_rate must be positive, got {self.sample_rate}")

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    def to_channels(self, channels: int) -> "Audio":
        """Return this audio with ``channels`` channels (mono is duplicated; stereo is averaged to mono)."""
        if channels == self.channels:
            return self
        if self.channels == 1:
            return Audio(self.samples.expand(channels, -1).contiguous(), self.sample_rate)
        if channels == 1:
            return Audio(self.samples.mean(dim=0, keepdim=True), self.sample_rate)
        raise ValueError(f"cannot convert {self.channels} channels to {channels}")

    def resampled(self, sample_rate: int) -> "Audio":
        """Return this audio at ``sample_rate`` Hz (windowed-sinc resampling, torchaudio)."""
        return Audio(resample(self.samples, self.sample_rate, sample_rate), sample_rate)


def resample(samples: torch.Tensor, from_sr: int, to_sr: int) -> torch.Tensor:
    """Resample along the last axis.

    Shape:
        samples: ``[..., time]`` → ``[..., time * to_sr / from_sr]``.
    """
    if int(from_sr) == int(to_sr):
        return samples
    import torchaudio.functional as AF

    return AF.resample(samples, int(from_sr), int(to_sr))


def _validate(samples: np.ndarray, path: Path) -> None:
    if samples.shape[1] == 0:
        raise InputError(f"{path}: the file holds no samples (zero length); give a file with audio in it")
    if samples.shape[0] > MAX_CHANNELS:
        raise InputError(
            f"{path}: {samples.shape[0]} channels; deconstruct takes mono or stereo input, "
            "downmix it to stereo first"
        )
    if not np.isfinite(samples).all():
        raise InputError(f"{path}: the audio contains NaN or infinite samples; repair or re-export the file")


def load_audio(path: str | os.PathLike, stream: int | str = 0) -> Audio:
    """Load an audio file as float32 ``[channels, samples]``.

    Args:
        path: WAV, FLAC, OGG, MP3 (soundfile) or NI stem file ``*.stem.mp4`` (ffmpeg).
        stream: for stem files, the stream index or name (``mixture``, ``drums``, ``bass``, ``other``, ``vocals``).

    Raises:
        InputError: missing file, not audio, zero length, non-finite samples, more than 2 channels.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an audio file")
    if is_stem_file(path):
        samples, sample_rate = decode_stem_stream(path, stream), STEM_RATE
    else:
        try:
            with sf.SoundFile(str(path)) as handle:
                check_header(handle, path)
                samples, sample_rate = _read_blockwise(handle), handle.samplerate
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError) as error:
            raise InputError(
                f"{path}: not a readable audio file ({(str(error).splitlines() or ['unknown error'])[0]}); "
                "use WAV, FLAC, OGG, MP3 or .stem.mp4"
            ) from None
    _validate(samples, path)
    return Audio(torch.from_numpy(samples), int(sample_rate))


READ_BLOCK_FRAMES = 1 << 18
"""Frames decoded per read: memory follows the data actually in the file, never a header's claim."""
BYTES_PER_SAMPLE = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8,
                    "ULAW": 1, "ALAW": 1}
"""Uncompressed subtypes: a header's frame count can be checked against the file size."""
UNCOMPRESSED_FORMATS = ("WAV", "WAVEX", "AIFF", "W64", "RF64", "AU")
"""Containers whose samples are stored as they are (the subtype's width is the bytes per sample)."""


def check_header(handle: sf.SoundFile, path: Path) -> None:
    """Reject a header that cannot describe this file: channels, rate, and (uncompressed) length vs size.

    Raises:
        InputError: no or too many channels, a non-positive rate, or more frames claimed than the file can hold.
    """
    if handle.channels < 1:
        raise InputError(f"{path}: the header gives {handle.channels} channels; the file is corrupt, re-export it")
    if handle.channels > MAX_CHANNELS:
        raise InputError(f"{path}: {handle.channels} channels; deconstruct takes mono or stereo input, "
                         "downmix it to stereo first")
    if handle.samplerate <= 0:
        raise InputError(f"{path}: the header gives a sample rate of {handle.samplerate} Hz; the file is corrupt")
    width = BYTES_PER_SAMPLE.get(handle.subtype) if handle.format in UNCOMPRESSED_FORMATS else None
    if width is not None:
        room = path.stat().st_size // (width * handle.channels)
        if handle.frames > room:
            raise InputError(f"{path}: the header claims {handle.frames} frames but the file holds at most {room}; "
                             "it is truncated or corrupt, re-export it")


def _read_blockwise(handle: sf.SoundFile) -> np.ndarray:
    """Decode a whole file block by block into ``[channels, samples]`` float32 (stops where the data ends)."""
    blocks = []
    while True:
        block = handle.read(READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
        if not len(block):
            break
        blocks.append(block)
    if not blocks:
        return np.zeros((handle.channels, 0), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(blocks).T)


def peak_dbfs(samples: torch.Tensor) -> float:
    """Sample peak in dBFS (``-inf`` for digital silence). Shape: ``[channels, samples]``."""
    peak = float(samples.abs().max()) if samples.numel() else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


def loudness_lufs(audio: Audio) -> float:
    """Integrated loudness (ITU-R BS.1770-4, pyloudnorm) in LUFS; ``-inf`` when too short or silent."""
    import pyloudnorm

    meter = pyloudnorm.Meter(audio.sample_rate)
    if audio.num_samples < int(0.4 * audio.sample_rate):
        return float("-inf")
    return float(meter.integrated_loudness(audio.samples.T.double().numpy()))


def _dither_to_int(samples: np.ndarray, bits: int, seed: int = 0) -> np.ndarray:
    """TPDF-dither ``[samples, channels]`` floats to ``bits``-bit integer scale (still float, soundfile packs it)."""
    scale = float(2 ** (bits - 1))
    rng = np.random.default_rng(seed)
    noise = (rng.random(samples.shape) - rng.random(samples.shape)) / scale
    return np.clip(samples + noise, -1.0, (scale - 1) / scale)


def encode_for_bit_depth(samples: torch.Tensor, bit_depth: str, name: str, seed: int = 0) -> np.ndarray:
    """Prepare ``[channels, samples]`` for writing: ``[samples, channels]`` floats, dithered for integer depths.

    Raises:
        OutputError: unknown depth, or integer output asked for audio that peaks above full scale.
    """
    if bit_depth not in SUBTYPES:
        raise OutputError(f"unknown bit depth {bit_depth!r}; use one of {', '.join(SUBTYPES)}")
    data = samples.detach().cpu().float().numpy().T
    if bit_depth == "float32":
        return data
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak > 1.0:
        raise OutputError(f"{name}: peaks at {20 * math.log10(peak):+.2f} dBFS and would clip as {bit_depth}-bit; "
                          "write float32 (the default) or lower the gain")
    return _dither_to_int(data, int(bit_depth), seed)


def save_audio(audio: Audio, path: str | os.PathLike, bit_depth: str = "float32") -> Path:
    """Write ``audio`` as WAV atomically (temporary name in the same folder, then rename).

    Args:
        audio: the audio to write.
        path: destination ``.wav`` path; its folder must exist.
        bit_depth: ``"float32"`` (default, never clipped), ``"24"`` or ``"16"`` (TPDF-dithered; refuses audio that
            peaks above full scale rather than clipping it).

    Raises:
        OutputError: unwritable folder, or integer output asked for audio that would clip.
    """
    path = Path(path)
    data = encode_for_bit_depth(audio.samples, bit_depth, path.name)
    with atomic_path(path, suffix=".partial.wav", mode=None) as tmp:
        sf.write(tmp, data, audio.sample_rate, subtype=SUBTYPES[bit_depth], format="WAV")
    return path

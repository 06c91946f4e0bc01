"""Multichannel WAV files with ``WAVE_FORMAT_EXTENSIBLE`` and a channel mask.

soundfile cannot set ``dwChannelMask``, so the header is written here: a RIFF/WAVE file with a 40-byte ``fmt ``
chunk (``wFormatTag`` 0xFFFE, 32-bit IEEE float samples, ``KSDATAFORMAT_SUBTYPE_IEEE_FLOAT``), a ``fact`` chunk
(required for non-PCM data) and interleaved little-endian float32 samples. Channels must already be in mask order
(ascending ``SPEAKER_*`` bit), which :mod:`deconstruct.spatial.layouts` guarantees. Files are written under a
temporary name in the destination folder and renamed into place, so an interrupted write never leaves a file that
looks complete. Samples are never clipped.
"""

from __future__ import annotations

import os
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deconstruct.errors import InputError, OutputError
from deconstruct.files import temporary_beside

WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
SUBTYPE_IEEE_FLOAT = uuid.UUID("00000003-0000-0010-8000-00aa00389b71")
_MAX_RIFF_BYTES = 0xFFFFFFFF
_FRAMES_PER_WRITE = 1 << 16


@dataclass(frozen=True)
class WavFormat:
    """The format of a WAV file as read back from its header.

    Attributes:
        format_tag: ``wFormatTag`` (0xFFFE for ``WAVE_FORMAT_EXTENSIBLE``).
        channels: ``nChannels``.
        sample_rate: ``nSamplesPerSec`` in Hz.
        bits_per_sample: ``wBitsPerSample``.
        channel_mask: ``dwChannelMask`` (0 when the file is not extensible).
        subformat: the extensible ``SubFormat`` GUID, or ``None``.
        num_frames: sample frames in the ``data`` chunk.
    """

    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    channel_mask: int
    subformat: uuid.UUID | None
    num_frames: int


def _fmt_chunk(channels: int, sample_rate: int, channel_mask: int) -> bytes:
    block_align = 4 * channels
    body = struct.pack(
        "<HHIIHHHHI16s",
        WAVE_FORMAT_EXTENSIBLE,
        channels,
        sample_rate,
        sample_rate * block_align,
        block_align,
        32,
        22,  # cbSize: the extension that follows
        32,  # wValidBitsPerSample
        channel_mask,
        SUBTYPE_IEEE_FLOAT.bytes_le,
    )
    return b"fmt " + struct.pack("<I", len(body)) + body


class WavExtensibleWriter:
    """Writes a float32 ``WAVE_FORMAT_EXTENSIBLE`` file block by block (the length is known up front).

    The file is written under a temporary name in the destination folder and renamed into place by
    :meth:`close`; :meth:`abort` (or an exception inside a ``with`` block) removes it.

    Args:
        path: destination ``.wav``; its folder must exist.
        channels: channel count, channels in mask order.
        sample_rate: in Hz.
        channel_mask: ``dwChannelMask``; when non-zero it must have exactly one bit per channel.
        num_frames: sample frames that will be written.
        overwrite: replace an existing file (otherwise an existing file is an error).

    Raises:
        InputError: a mask that does not match the channel count.
        OutputError: the file exists (without ``overwrite``), the folder is not writable, or the audio is too long
            for a RIFF file (4 GiB).
    """

    def __init__(self, path: str | os.PathLike, channels: int, sample_rate: int, channel_mask: int,
                 num_frames: int, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.channels, self.num_frames, self.written = int(channels), int(num_frames), 0
        if channel_mask and bin(channel_mask).count("1") != channels:
            bits = bin(channel_mask).count("1")
            raise InputError(f"channel mask {channel_mask:#x} has {bits} bits for {channels} channels")
        if self.path.exists() and not overwrite:
            raise OutputError(f"{self.path}: already exists; choose another name or allow overwriting")
        data_bytes = 4 * channels * num_frames
        fmt = _fmt_chunk(channels, int(sample_rate), channel_mask)
        fact = b"fact" + struct.pack("<II", 4, num_frames)
        riff_size = 4 + len(fmt) + len(fact) + 8 + data_bytes
        if riff_size > _MAX_RIFF_BYTES:
            raise OutputError(
                f"{self.path}: {data_bytes} bytes of audio exceed the 4 GiB limit of a WAV file; render shorter parts"
            )
        fd, self._tmp = temporary_beside(self.path, suffix=".partial.wav")
        self._handle = os.fdopen(fd, "wb")
        self._handle.write(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + fmt + fact)
        self._handle.write(b"data" + struct.pack("<I", data_bytes))

    def write(self, block: torch.Tensor | np.ndarray) -> None:
        """Append ``[channels, n]`` samples."""
        data = block.detach().cpu().numpy() if isinstance(block, torch.Tensor) else np.asarray(block)
        if data.ndim != 2 or data.shape[0] != self.channels:
            raise InputError(f"samples must be [{self.channels}, samples], got shape {data.shape}")
        if self.written + data.shape[1] > self.num_frames:
            raise ValueError(f"{self.path}: more than the announced {self.num_frames} frames")
        for start in range(0, data.shape[1], _FRAMES_PER_WRITE):
            piece = data[:, start : start + _FRAMES_PER_WRITE]
            self._handle.write(np.ascontiguousarray(piece.T, dtype="<f4").tobytes())
        self.written += data.shape[1]

    def close(self) -> Path:
        """Finish the file and rename it into place."""
        try:
            if self.written != self.num_frames:
                raise ValueError(f"{self.path}: {self.written} frames written, {self.num_frames} announced")
            self._handle.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Remove the unfinished file."""
        self._handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "WavExtensibleWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_wav_extensible(
    path: str | os.PathLike,
    samples: torch.Tensor | np.ndarray,
    sample_rate: int,
    channel_mask: int,
    overwrite: bool = False,
) -> Path:
    """Write float32 ``WAVE_FORMAT_EXTENSIBLE`` audio with a channel mask.

    Args:
        path: destination ``.wav``; its folder must exist.
        samples: ``[channels, T]`` audio, channels in mask order.
        sample_rate: in Hz.
        channel_mask: ``dwChannelMask``; when non-zero it must have exactly one bit per channel.
        overwrite: replace an existing file (otherwise an existing file is an error).

    Returns:
        The path written.

    Raises:
        InputError: wrong rank, or a mask that does not match the channel count.
        OutputError: the file exists (without ``overwrite``), the folder is not writable, or the audio is too long
            for a RIFF file (4 GiB).
    """
    data = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    if data.ndim != 2:
        raise InputError(f"samples must be [channels, samples], got shape {data.shape}")
    with WavExtensibleWriter(path, data.shape[0], sample_rate, channel_mask, data.shape[1], overwrite) as writer:
        writer.write(data)
    return Path(path)


def read_wav_format(path: str | os.PathLike) -> WavFormat:
    """Read the format of a WAV file from its header (including ``dwChannelMask``).

    Raises:
        InputError: missing file, not RIFF/WAVE, or no ``fmt ``/``data`` chunk.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise InputError(f"{path}: not a RIFF/WAVE file")
        fmt: bytes | None = None
        data_bytes: int | None = None
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                break
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = handle.read(size)
            elif chunk_id == b"data":
                data_bytes = size
                handle.seek(size, os.SEEK_CUR)
            else:
                handle.seek(size, os.SEEK_CUR)
            if size % 2:
                handle.seek(1, os.SEEK_CUR)  # chunks are word-aligned
    if fmt is None or data_bytes is None or len(fmt) < 16:
        raise InputError(f"{path}: the WAV file has no valid fmt or data chunk")
    format_tag, channels, sample_rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    mask, subformat = 0, None
    if format_tag == WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 40:
        mask = struct.unpack("<I", fmt[20:24])[0]
        subformat = uuid.UUID(bytes_le=fmt[24:40])
    return WavFormat(format_tag, channels, sample_rate, bits, mask, subformat, data_bytes // max(block_align, 1))


def read_wav_channel_mask(path: str | os.PathLike) -> int:
    """The ``dwChannelMask`` of a WAV file (0 when it has none)."""
    return read_wav_format(path).channel_mask

"""Native Instruments stem files (``*.stem.mp4``, the MUSDB18 format), decoded with ffmpeg.

A stem file is an MP4 holding several AAC streams: the mixture, then drums, bass, other and vocals
(:data:`STEM_STREAMS`). Decoding goes through the ``ffmpeg`` program (``apt-get install ffmpeg``); a missing
program is a :class:`~deconstruct.errors.DependencyError`, an undecodable file an
:class:`~deconstruct.errors.InputError`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from deconstruct.errors import DependencyError, InputError

__all__ = ["STEM_STREAMS", "decode_stem_stream", "is_stem_file", "probe_duration_s"]

STEM_STREAMS = ("mixture", "drums", "bass", "other", "vocals")


def is_stem_file(path: str | Path) -> bool:
    """True when ``path`` is named like an NI stem file (``*.stem.mp4``)."""
    return Path(path).name.lower().endswith(".stem.mp4")


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise DependencyError(f"{name} is needed to read .stem.mp4 files; install ffmpeg (apt-get install ffmpeg)")
    return exe


def probe_duration_s(path: str | Path) -> float:
    """Duration of a stem file in seconds (ffprobe)."""
    result = subprocess.run([_tool("ffprobe"), "-v", "error", "-show_entries", "format=duration", "-of",
                             "default=noprint_wrappers=1:nokey=1", str(path)], capture_output=True, text=True)
    try:
        return float(result.stdout.strip())
    except ValueError:
        raise InputError(f"{path}: not a readable stem file ({result.stderr.strip() or 'ffprobe failed'})") from None


def decode_stem_stream(path: str | Path, stream: int | str, sample_rate: int = 44100, start_s: float | None = None,
                       length_s: float | None = None) -> np.ndarray:
    """Decode one stream of a stem file as stereo float32.

    Args:
        path: the ``.stem.mp4`` file.
        stream: index or name (:data:`STEM_STREAMS`) of the stream.
        sample_rate: rate to decode to, in Hz.
        start_s, length_s: an excerpt (seconds); ``None`` decodes from the start / to the end.

    Returns:
        float32 ``[2, samples]``.
    """
    index = STEM_STREAMS.index(stream) if isinstance(stream, str) else int(stream)
    window = ([] if start_s is None else ["-ss", f"{start_s:.6f}"]) + ([] if length_s is None else
                                                                         ["-t", f"{length_s:.6f}"])
    command = [_tool("ffmpeg"), "-v", "error", *window, "-i", str(path), "-map", f"0:a:{index}", "-f", "f32le",
               "-ac", "2", "-ar", str(sample_rate), "-"]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"{path}: cannot decode stream {index} ({message[-1] if message else 'ffmpeg failed'})")
    return np.frombuffer(result.stdout, dtype="<f4").reshape(-1, 2).T.copy()

"""Multichannel WAV: WAVE_FORMAT_EXTENSIBLE header, channel mask read back, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from deconstruct.errors import InputError, OutputError
from deconstruct.spatial import Upmixer, read_wav_channel_mask, read_wav_format, write_wav_extensible
from deconstruct.spatial.wavefile import SUBTYPE_IEEE_FLOAT, WAVE_FORMAT_EXTENSIBLE


@pytest.mark.parametrize(
    ("layout", "mask"),
    [("2.0", 0x3), ("5.1", 0x60F), ("7.1", 0x63F), ("7.1.4", 0x2D63F), ("binaural", 0x3), ("hoa3", 0)],
)
def test_render_file_carries_the_layout_mask_and_reads_back(
    layout: str, mask: int, stems, tmp_path: Path
) -> None:
    upmixer = Upmixer(layout, "immersive")
    render = upmixer.render(stems)
    path = upmixer.save(render, tmp_path / f"{layout}.wav")
    assert read_wav_channel_mask(path) == mask
    header = read_wav_format(path)
    assert header.format_tag == WAVE_FORMAT_EXTENSIBLE and header.subformat == SUBTYPE_IEEE_FLOAT
    assert (header.channels, header.sample_rate, header.bits_per_sample) == (len(upmixer.labels), 44100, 32)
    assert header.num_frames == render.num_samples
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == 44100 and np.array_equal(data.T, render.samples.numpy())
    assert sf.info(path).subtype == "FLOAT"
    assert [p.name for p in tmp_path.iterdir()] == [f"{layout}.wav"]  # no temporary file left behind


def test_values_beyond_full_scale_are_not_clipped(tmp_path: Path) -> None:
    samples = np.array([[2.5, -3.0, 0.25]], dtype=np.float32)
    path = write_wav_extensible(tmp_path / "loud.wav", samples, 48000, 0x4)
    data, _ = sf.read(path, dtype="float32", always_2d=True)
    assert np.array_equal(data.T, samples)


def test_existing_files_are_kept_unless_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keep.wav"
    path.write_bytes(b"user data")
    with pytest.raises(OutputError, match="already exists"):
        write_wav_extensible(path, np.zeros((2, 4)), 44100, 0x3)
    assert path.read_bytes() == b"user data"
    write_wav_extensible(path, np.zeros((2, 4)), 44100, 0x3, overwrite=True)
    assert read_wav_channel_mask(path) == 0x3


def test_writer_checks_rank_and_mask(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"must be \[channels, samples\]"):
        write_wav_extensible(tmp_path / "x.wav", np.zeros(8), 44100, 0x4)
    with pytest.raises(InputError, match="3 bits for 2 channels"):
        write_wav_extensible(tmp_path / "x.wav", np.zeros((2, 8)), 44100, 0x7)
    with pytest.raises(OutputError, match="cannot write there"):
        write_wav_extensible(tmp_path / "missing" / "x.wav", np.zeros((2, 8)), 44100, 0x3)


def test_reader_rejects_non_wav(tmp_path: Path) -> None:
    path = tmp_path / "not.wav"
    path.write_bytes(b"OggS" + bytes(40))
    with pytest.raises(InputError, match="not a RIFF/WAVE"):
        read_wav_channel_mask(path)

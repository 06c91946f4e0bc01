"""The default upmix: ambience extracted (never invented), the front image kept, renders at the input's level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import fftconvolve, resample_poly

from deconstruct.audio import Audio
from deconstruct.spatial import Upmixer, downmix
from deconstruct.spatial.decomposition import PrimaryAmbientDecomposer
from deconstruct.spatial.engine import RenderEngine, render_blocks
from deconstruct.spatial.levels import true_peak_dbtp
from deconstruct.spatial.wavefile import read_wav_format
from tests.conftest import SHARED_DATA, shared_file
from tests.spatial.helpers import RATE, energy, noise

SHARED = SHARED_DATA
VOICE = SHARED / "dry_speech" / "freesound_136777_xmas_male.wav"  # train split
ROOM = SHARED / "rir" / "pymixconsole_small_room_genesis6.wav"  # measured stereo room, train split


def _ratio_db(render: torch.Tensor, labels: tuple[str, ...], group: tuple[str, ...]) -> float:
    front = sum(energy(render[labels.index(c)]) for c in ("L", "R", "C"))
    other = sum(energy(render[i]) for i, c in enumerate(labels) if c in group)
    return 10 * np.log10(max(other, 1e-30) / front)


def _band(seconds: float = 2.0) -> dict[str, Audio]:
    """Stereo stems of a band: nearly mono vocals and bass, wide drums, a wide pad."""
    return {name: noise(2, seconds, correlation, seed) for name, correlation, seed in
            (("vocals", 0.95, 1), ("drums", 0.6, 2), ("bass", 0.99, 3), ("other", 0.4, 4))}


def test_pca_decomposition_is_exact_and_finds_no_ambience_in_coherent_channels() -> None:
    rng = np.random.default_rng(0)
    spectra = rng.standard_normal((40, 2, 9)) + 1j * rng.standard_normal((40, 2, 9))
    decomposer = PrimaryAmbientDecomposer(9, 0.01, 50.0)
    parts = decomposer(spectra)
    primary = np.stack([np.cos(np.arctan2(1 - parts.pan, 1 + parts.pan)) * parts.primary,
                        np.sin(np.arctan2(1 - parts.pan, 1 + parts.pan)) * parts.rotation * parts.primary], axis=1)
    assert np.allclose(primary + parts.ambient, spectra)  # P + A = x
    coherent = np.repeat(spectra[:, :1], 2, axis=1) * np.array([1.0, 0.5])[None, :, None]
    parts = PrimaryAmbientDecomposer(9, 0.01, 50.0)(coherent)
    assert np.abs(parts.ambient).max() < 1e-9 * np.abs(coherent).max()
    assert np.allclose(parts.pan, (1 - 0.5) / (1 + 0.5))  # tangent-law panning index of gains (1, 0.5)


def test_true_peak_reads_intersample_peaks() -> None:
    t = np.arange(RATE)
    quarter = np.sin(2 * np.pi * (RATE / 4) * t / RATE + np.pi / 4)  # samples at +-0.707, waveform at +-1
    assert 20 * np.log10(np.abs(quarter).max()) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_dbtp(quarter) == pytest.approx(0.0, abs=0.1)


def test_dry_voice_leaves_the_surrounds_silent_and_a_room_fills_them() -> None:
    shared_file(VOICE.relative_to(SHARED).as_posix())
    shared_file(ROOM.relative_to(SHARED).as_posix())
    voice, rate = sf.read(VOICE)
    voice = voice[: 2 * rate]
    room, room_rate = sf.read(ROOM)
    room = resample_poly(room, rate, room_rate, axis=0) if room_rate != rate else room
    dry = np.stack([voice, voice])
    wet = np.stack([fftconvolve(voice, room[:, c])[: voice.size] for c in range(2)])
    levels = {}
    for name, signal in (("dry", dry), ("room", wet)):
        stem = Audio(torch.tensor(0.5 * signal / np.abs(signal).max(), dtype=torch.float32), rate)
        upmixer = Upmixer("5.1")
        levels[name] = _ratio_db(upmixer.render({"vocals": stem}).samples, upmixer.labels, ("Ls", "Rs"))
    assert levels["dry"] <= -20.0
    assert levels["room"] >= levels["dry"] + 6.0 and levels["room"] >= -25.0  # the room's own ambience, audible


def test_band_ambience_reaches_surrounds_and_heights() -> None:
    band = _band(1.0)
    upmixer = Upmixer("7.1.4")
    render = upmixer.render(band).samples
    assert -20.0 <= _ratio_db(render, upmixer.labels, ("Ls", "Rs", "Lb", "Rb")) <= -3.0
    assert _ratio_db(render, upmixer.labels, ("TFL", "TFR", "TBL", "TBR")) >= -30.0
    five = Upmixer("5.1")
    assert -20.0 <= _ratio_db(five.render(band).samples, five.labels, ("Ls", "Rs")) <= -3.0


def test_default_5_1_folds_down_to_the_mix_within_1_db_per_channel() -> None:
    band = _band()
    mix = sum(audio.samples for audio in band.values())
    folded = downmix(Upmixer("5.1", levels=False, lfe=False).render(band), "5.1").samples
    for channel in range(2):
        assert abs(10 * np.log10(energy(folded[channel]) / energy(mix[channel]))) <= 1.0


def test_removed_reverberation_goes_to_the_surrounds() -> None:
    dry = noise(2, 2.0, correlation=1.0, seed=7)  # coherent: no ambience of its own
    reverb = noise(2, 2.0, correlation=0.0, seed=8).samples * 0.5
    stem = Audio(dry.samples + reverb, RATE)
    upmixer = Upmixer("5.1", levels=False)
    with_reverb = upmixer.render({"vocals": stem}, {"vocals": dry}).samples
    without = upmixer.render({"vocals": stem}, {"vocals": dry}, {"vocals": {"reverb_removed": False}}).samples
    assert _ratio_db(with_reverb, upmixer.labels, ("Ls", "Rs")) >= -10.0
    assert _ratio_db(without, upmixer.labels, ("Ls", "Rs")) <= -60.0


@pytest.mark.parametrize("layout", ["5.1", "7.1.4", "binaural"])
def test_render_levels_match_the_input(layout: str, tmp_path: Path) -> None:
    band = _band(1.0)
    mix = sum(audio.samples for audio in band.values()).numpy()
    scale = 10 ** ((0.5 - true_peak_dbtp(mix)) / 20)  # a hot master: its true peak at +0.5 dBTP
    band = {name: Audio(audio.samples * scale, RATE) for name, audio in band.items()}
    upmixer = Upmixer(layout)
    audio, levels = upmixer.render_with_levels(band)
    assert levels is not None and levels.true_peak_dbtp <= -1.0 + 1e-6
    assert true_peak_dbtp(audio.samples.numpy()) <= -1.0 + 0.05
    if layout == "binaural":
        assert abs(levels.loudness_lu_vs_input) <= 1.0
    else:
        assert abs(levels.power_db_vs_input) <= 1.0
    paths = {}
    for name, stem in band.items():
        paths[name] = tmp_path / f"{name}.wav"
        sf.write(paths[name], stem.samples.numpy().T, RATE, subtype="FLOAT")
    out = tmp_path / f"{layout}.wav"
    file_levels = upmixer.render_files(paths, out)
    written, rate = sf.read(out, always_2d=True)
    assert rate == RATE and written.shape == (band["vocals"].num_samples, len(upmixer.labels))
    assert np.abs(written).max() <= 1.0 and read_wav_format(out).channel_mask == upmixer.channel_mask
    assert np.abs(written.T - audio.samples.numpy()).max() <= 1e-4  # the file path renders the same
    assert file_levels == levels and not list(tmp_path.glob(".*"))  # no temporary left


def test_block_size_does_not_change_the_render() -> None:
    band = _band(1.0)
    upmixer = Upmixer("7.1.4")
    renders = []
    for hops in (3, 64):
        engine = RenderEngine(upmixer, RATE, {name: 2 for name in band})

        def read(start: int, stop: int):
            return {name: a.samples[:, start:stop].double().numpy() for name, a in band.items()}, {}

        renders.append(np.concatenate(list(render_blocks(engine, read, RATE, block_hops=hops)), axis=1))
    assert renders[0].shape == (12, RATE) and np.allclose(renders[0], renders[1], atol=1e-9)

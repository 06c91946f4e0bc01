"""Synthetic ambience of user placements (decorrelated reverb driven by reverb estimates) and the LFE feed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from deconstruct.errors import InputError
from deconstruct.spatial import Upmixer
from deconstruct.spatial.ambience import reverb_tails
from deconstruct.spatial.upmixer import ambience_directions
from tests.spatial.helpers import RATE, energy

SYNTHETIC = {"default": {"width_deg": 120}, "ambience": {"wet_level": 0.3, "rt60_s": 1.2}}
DRY_ONLY = {"default": {"width_deg": 120}}


def test_reverb_tails_are_decorrelated_and_decay_by_rt60() -> None:
    tails = reverb_tails(8, rt60_s=0.5, sample_rate=RATE, seed=3)
    assert np.allclose(np.sum(tails**2, axis=1), 1.0)
    correlation = np.corrcoef(tails)
    assert np.abs(correlation[~np.eye(8, dtype=bool)]).max() < 0.1
    onset = int(0.02 * RATE)
    early = np.mean(tails[:, onset : onset + 2205] ** 2)
    late = np.mean(tails[:, onset + int(0.25 * RATE) : onset + int(0.25 * RATE) + 2205] ** 2)
    assert 10 * np.log10(early / late) == pytest.approx(30.0, abs=3.0)  # half the RT60: 30 dB of decay


def test_synthetic_ambience_goes_to_surround_and_height_channels_only(stems) -> None:
    upmixer = Upmixer("7.1.4", SYNTHETIC, lfe=False, levels=False)
    wet = upmixer.render(stems).samples
    dry = Upmixer("7.1.4", DRY_ONLY, lfe=False, levels=False).render(stems).samples
    ambience = wet - dry
    for index, label in enumerate(upmixer.labels):
        if label in ("L", "R", "C", "LFE"):
            assert energy(ambience[index]) == 0.0, label
        else:
            assert energy(ambience[index]) > 0.0, label
    assert ambience_directions("2.0") == [] and len(ambience_directions("binaural")) == 8


def test_reverb_estimates_drive_the_synthetic_ambience(stems) -> None:
    upmixer = Upmixer("5.1", SYNTHETIC, lfe=False, levels=False)
    dry = Upmixer("5.1", DRY_ONLY, lfe=False, levels=False).render(stems).samples
    plain = energy(upmixer.render(stems).samples - dry)
    estimates = {name: {"wet_level": 0.05, "rt60_s": 0.4} for name in stems}
    quiet = energy(upmixer.render(stems, estimates=estimates).samples - dry)
    assert 10 * np.log10(plain / quiet) == pytest.approx(20 * np.log10(0.3 / 0.05), abs=2.0)
    nearly_dry = upmixer.render(stems, estimates={name: {"drr_db": 100.0} for name in stems}).samples
    assert energy(nearly_dry - dry) < 1e-8 * energy(dry)
    with pytest.raises(InputError, match="reverb_estimates.vocals.drr_db: 200 is outside"):
        upmixer.render(stems, estimates={"vocals": {"drr_db": 200.0}})
    with pytest.raises(InputError, match="unknown stem"):
        upmixer.render(stems, estimates={"voice": {"rt60_s": 1.0}})
    with pytest.raises(InputError, match="rt60_s: -1 is outside"):
        upmixer.render(stems, estimates={"vocals": {"rt60_s": -1}})


def test_stage_preset_has_no_ambience(stems) -> None:
    with_flag = Upmixer("7.1.4", "stage").render(stems).samples
    without = Upmixer("7.1.4", "stage", ambience=False).render(stems).samples
    assert np.array_equal(with_flag.numpy(), without.numpy())


def test_lfe_is_a_low_passed_sum(stems) -> None:
    upmixer = Upmixer("5.1", "stage", levels=False)
    lfe = upmixer.render(stems).samples[upmixer.labels.index("LFE")].double().numpy()
    frequencies, spectrum = welch(lfe, fs=RATE, nperseg=4096)
    low = spectrum[(frequencies > 20) & (frequencies < 80)].mean()
    high = spectrum[frequencies > 500].mean()
    assert 10 * np.log10(low / high) > 60
    assert energy(Upmixer("5.1", "stage", lfe=False).render(stems).samples[3]) == 0.0

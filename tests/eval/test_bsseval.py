"""BSSEval v4 in torch against museval, the reference implementation, within 0.01 dB."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from deconstruct.metrics import BSSEvalScores, bss_eval_v4, frame_count
from tests.conftest import shared_file

museval = pytest.importorskip("museval")

TOLERANCE_DB = 0.01
METRICS = ("SDR", "ISR", "SIR", "SAR")


def ours(references: np.ndarray, estimates: np.ndarray, **options) -> dict[str, np.ndarray]:
    """Run ours on museval-layout arrays ``[sources, samples, channels]``."""
    scores = bss_eval_v4(torch.from_numpy(references).permute(0, 2, 1), torch.from_numpy(estimates).permute(0, 2, 1),
                         **options)
    return {name: values.numpy() for name, values in scores.as_dict().items()}


def assert_agrees(mine: dict[str, np.ndarray], theirs: tuple[np.ndarray, ...]) -> None:
    for metric, reference in zip(METRICS, theirs):
        value = mine[metric]
        assert value.shape == reference.shape, metric
        np.testing.assert_array_equal(np.isnan(value), np.isnan(reference), err_msg=f"NaN frames of {metric}")
        finite = ~np.isnan(reference)
        assert np.abs(value[finite] - reference[finite]).max() < TOLERANCE_DB, metric


def test_agrees_with_museval_on_real_musdb_excerpt():
    folder = shared_file("musdb18_music_delta_80s_rock/mixture.wav").parent
    length = 3 * 44100 + 7000  # three full frames and a partial one that museval drops
    stems = np.stack([sf.read(folder / f"{n}.wav", frames=length)[0] for n in ("vocals", "drums", "bass", "other")])
    mixture = sf.read(folder / "mixture.wav", frames=length)[0]
    rng = np.random.default_rng(0)
    estimates = 0.7 * stems + 0.3 * mixture / 4 + 0.2 * np.roll(stems, 90, axis=1)
    estimates += 1e-3 * rng.standard_normal(stems.shape)
    assert_agrees(ours(stems, estimates), museval.evaluate(stems, estimates))


def test_agrees_with_museval_on_random_signals_with_silent_frames():
    rng = np.random.default_rng(1)
    references = rng.standard_normal((2, 3 * 44100 + 3000, 2))
    references[0, 44100:88200] = 0.0  # a silent reference frame: NaN for every source there
    estimates = references + 0.4 * rng.standard_normal(references.shape) + 0.3 * references[::-1]
    estimates[1, :44100] = 0.0  # a silent estimate frame
    mine = ours(references, estimates)
    theirs = museval.evaluate(references, estimates)
    assert np.isnan(mine["SDR"][:, :2]).all() and not np.isnan(mine["SDR"][:, 2]).any()
    assert_agrees(mine, theirs)


def test_agrees_with_museval_with_overlapping_frames_and_short_filters():
    rng = np.random.default_rng(2)
    references = rng.standard_normal((3, 30000, 1))
    estimates = references + 0.5 * rng.standard_normal(references.shape) + 0.2 * np.roll(references, 1, axis=0)
    sdr, isr, sir, sar, _ = museval.metrics.bss_eval(references, estimates, window=8000, hop=3000, filters_len=64)
    assert_agrees(ours(references, estimates, window=8000, hop=3000, filter_len=64), (sdr, isr, sir, sar))


def test_estimate_sets_broadcast_against_one_reference_set():
    generator = torch.Generator().manual_seed(3)
    references = torch.randn(3, 2, 30000, generator=generator, dtype=torch.float64)
    estimates = references + 0.5 * torch.randn(2, 3, 2, 30000, generator=generator, dtype=torch.float64)
    options = {"window": 12000, "hop": 12000, "filter_len": 128}
    batched = bss_eval_v4(references, estimates, **options)
    assert batched.sdr.shape == (2, 3, 2)
    for index in range(2):
        single = bss_eval_v4(references, estimates[index], **options)
        for name, values in single.as_dict().items():
            torch.testing.assert_close(batched.as_dict()[name][index], values, rtol=0, atol=1e-9)


def test_silent_estimate_is_nan_everywhere_where_museval_refuses():
    references = np.random.default_rng(4).standard_normal((2, 50000, 2))
    estimates = references.copy()
    estimates[1] = 0.0
    with pytest.raises(ValueError):
        museval.evaluate(references, estimates)
    assert all(np.isnan(values).all() for values in ours(references, estimates).values())


def test_exact_estimate_has_infinite_sdr_and_scaled_one_its_known_sdr():
    references = torch.randn(2, 2, 30000, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    assert torch.isinf(bss_eval_v4(references, references, window=10000, hop=10000).sdr).all()
    half = bss_eval_v4(references, 0.5 * references, window=10000, hop=10000)
    torch.testing.assert_close(half.sdr, torch.full_like(half.sdr, 20 * np.log10(2)), rtol=0, atol=1e-9)


@pytest.mark.parametrize("samples, window, hop", [(44100 * 3 + 5, 44100, 44100), (44100, 44100, 44100),
                                                  (1000, 44100, 44100), (30000, 8000, 3000)])
def test_frame_count_matches_museval_framing(samples, window, hop):
    assert frame_count(samples, window, hop) == museval.metrics.Framing(window, hop, samples).nwin


def test_median_ignores_nan_and_averages_the_middle_pair():
    frames = torch.tensor([[1.0, np.nan, 3.0, 10.0, 4.0]], dtype=torch.float64)
    scores = BSSEvalScores(frames, frames, frames, frames)
    assert scores.median()["SDR"].item() == pytest.approx(np.nanmedian(frames.numpy()))  # (3 + 4) / 2


@pytest.mark.parametrize(
    "references, estimates",
    [(torch.zeros(2, 100), torch.zeros(2, 100)), (torch.zeros(2, 2, 100), torch.zeros(2, 2, 90)),
     (torch.zeros(2, 2, 100), torch.zeros(3, 2, 100))],
)
def test_rejects_wrong_rank_or_mismatched_shapes(references, estimates):
    with pytest.raises(ValueError, match="bss_eval_v4"):
        bss_eval_v4(references, estimates)

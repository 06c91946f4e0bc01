"""The accelerator campaign's path, run on the CPU in seconds (tiny networks, a few steps)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deconstruct.train.campaign_data import RemovalBatches, save_bundle, synthetic_bundle, torch_chorus

REPO = Path(__file__).resolve().parents[2]
NO_AUDIO_LIBRARIES = (
    "import sys, runpy; sys.modules['soundfile'] = None; sys.modules['pedalboard'] = None; "
    "sys.argv = ['run.py'] + sys.argv[1:]; runpy.run_path('recipes/campaign/run.py', run_name='__main__')"
)


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory) -> Path:
    return save_bundle(synthetic_bundle(seconds=3.0), tmp_path_factory.mktemp("bundle") / "bundle.pt")


def test_smoke_campaign_runs_without_soundfile_or_pedalboard(bundle_file, tmp_path):
    out = tmp_path / "campaign"
    result = subprocess.run(
        [sys.executable, "-c", NO_AUDIO_LIBRARIES, "--minutes", "1", "--out", str(out), "--smoke", "--bundle",
         str(bundle_file)], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) <= 8 and all(p.parent == out and p.stat().st_size < 16 * 2**20 for p in files)
    record = json.loads((out / "campaign.json").read_text())
    for effect in ("reverb", "chorus"):
        entry = record["models"][f"removal/{effect}"]
        assert entry["steps"] == 3 and entry["seconds"] >= 0
        assert {"gain_db", "lacks_max_loss_db"} <= set(entry["candidate"]) and "gain_db" in entry["shipped"]
        assert isinstance(entry["beats_shipped"], bool)
        assert (out / f"{effect}-candidate.pt").is_file()
    assert "skipped" in record["models"]["analysis"]


def test_device_batches_are_deterministic_and_hold_the_effect_where_marked():
    bundle = synthetic_bundle(seconds=2.0)
    first = RemovalBatches(bundle, "train", "reverb", 0.5, "cpu", seed=3).batch(4)
    again = RemovalBatches(bundle, "train", "reverb", 0.5, "cpu", seed=3).batch(4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    wet, target, holds = first
    assert wet.shape == target.shape == (4, 1, 22050)
    lacking = ~holds
    assert torch.equal(wet[lacking], target[lacking])
    assert all(not torch.allclose(wet[i], target[i]) for i in range(4) if holds[i])


def test_torch_chorus_matches_the_catalog_chorus_at_the_start():
    from deconstruct.effects.functional import chorus

    x = torch.randn(1, 4410, generator=torch.Generator().manual_seed(0))
    ours = torch_chorus(x, torch.tensor([1.0]), torch.tensor([0.5]), torch.tensor([0.5]))
    reference = chorus(x[:, None], 44100, 1.0, 0.5, 0.5)[:, 0]
    assert torch.allclose(ours[:, :441], reference[:, :441], atol=1e-4)  # the LFO phases agree at first
    assert float((ours - reference).abs().max()) < 0.02  # then drift by JUCE's float32 phase accumulation

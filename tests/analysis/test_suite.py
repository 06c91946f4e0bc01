"""The analysis evaluation suite on a tiny stand-in data folder (one eval dry file, one eval room)."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from eval.analysis_suite import eval_dry_files, eval_rir_files, evaluate_analysis, stored_results
from eval.store import store_suite_results


def stand_in_data(root):
    rate = 16000
    rng = np.random.default_rng(0)
    (root / "dry_speech").mkdir(parents=True)
    (root / "rir").mkdir()
    t = np.arange(rate) / rate
    sf.write(root / "dry_speech" / "voice.wav", 0.1 * rng.standard_normal(rate) * np.sin(2 * np.pi * 3 * t) ** 2, rate)
    sf.write(root / "dry_speech" / "train_voice.wav", 0.1 * rng.standard_normal(rate), rate)
    room = rng.standard_normal(rate // 2) * np.exp(-t[: rate // 2] * 14)
    sf.write(root / "rir" / "room.wav", room, rate)
    splits = {"train": ["dry_speech/train_voice.wav"], "eval": ["dry_speech/voice.wav", "rir/room.wav"]}
    (root / "splits.json").write_text(json.dumps(splits))
    return root


def test_suite_scores_chains_and_rooms_and_stores_metrics(analyzer, smoke_analysis_checkpoint, tmp_path):
    root = stand_in_data(tmp_path / "data")
    assert [f.name for f in eval_dry_files(root)] == ["voice.wav"]
    assert [f.name for f in eval_rir_files(root)] == ["room.wav"]
    results = evaluate_analysis(analyzer, root, chains=3, seed=1)
    assert len(results.cases) == 3 and len(results.detection) == 7
    assert len(results.rir) == 1 + 4  # the dry source, then the room at four wet levels
    summary = results.summary
    assert summary["cases"] == 3 and 0.0 <= summary["macro_f1_all_present_baseline"] <= 1.0
    assert set(results.params.columns) >= {"effect", "parameter", "mae_normalised", "mae_physical"}
    assert (results.params["mae_normalised"] <= 1.0).all()
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(smoke_analysis_checkpoint.read_bytes())
    path = store_suite_results(str(checkpoint), "analysis_suite", stored_results(results), argv=["test"])
    assert path == tmp_path / "model.metrics.json" and checkpoint.read_bytes() == smoke_analysis_checkpoint.read_bytes()
    stored = json.loads(path.read_text())["analysis_suite"]
    assert stored["summary"]["cases"] == 3 and stored["measured_by"]["command"] == "test"

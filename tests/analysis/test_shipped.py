"""Golden regression of the shipped analysis model on fixed synthetic audio (skipped when the weights are absent).

``shipped_golden.json`` holds the probabilities the shipped weights gave; a changed model, feature or windowing
code shows here first. Regenerate it only when shipping new weights:
``python -m tests.analysis.test_shipped``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from deconstruct.audio import Audio
from deconstruct.effects.chain import Effect
from deconstruct.effects.render import render_effect

WEIGHTS = Path(__file__).resolve().parents[2] / "deconstruct" / "models" / "weights" / "analysis-effect-cnn.pt"
GOLDEN = Path(__file__).with_name("shipped_golden.json")
RATE = 44100
EFFECTS = {
    "dry": None,
    "delay": Effect("delay", {"delay_s": 0.3, "feedback": 0.4, "mix": 0.4}),
    "reverb": Effect("reverb", {"room_size": 0.8, "wet_level": 0.5}),
    "distortion": Effect("distortion", {"drive_db": 22.0}),
}


def signals() -> dict[str, Audio]:
    """Noise bursts (a 2.3 Hz envelope, 4 s), dry and through single effects."""
    t = torch.arange(4 * RATE) / RATE
    dry = (0.1 * torch.relu(torch.sin(2 * math.pi * 2.3 * t)) ** 6
           * torch.randn(4 * RATE, generator=torch.Generator().manual_seed(0)))[None]
    return {name: Audio(dry if effect is None else render_effect(dry, RATE, effect), RATE)
            for name, effect in EFFECTS.items()}


def probabilities() -> dict[str, dict[str, float]]:
    from deconstruct.analysis import EffectAnalyzer

    analyzer = EffectAnalyzer(WEIGHTS, device="cpu")
    return {name: {e.name: e.probability for e in analyzer.analyze(audio)} for name, audio in signals().items()}


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="shipped analysis weights not present")
def test_shipped_model_matches_its_golden_probabilities_and_finds_the_obvious():
    found = probabilities()
    golden = json.loads(GOLDEN.read_text())
    for name, expected in golden.items():
        for effect, probability in expected.items():
            assert found[name][effect] == pytest.approx(probability, abs=0.02), (name, effect)
    for effect in ("delay", "reverb", "distortion"):  # each single effect is the most likely of the three
        assert max(("delay", "reverb", "distortion"), key=lambda e: found[effect][e]) == effect
        assert found[effect][effect] > 0.5 and found["dry"][effect] < 0.5


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps({k: {e: round(p, 4) for e, p in v.items()} for k, v in probabilities().items()},
                                 indent=2) + "\n")
    print(f"wrote {GOLDEN}")

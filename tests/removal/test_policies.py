"""``--remove safe|all|none`` and ``Deconstructor(remove=...)``: what each writes and reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from deconstruct.cli import main
from deconstruct.errors import InputError


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    rng = np.random.default_rng(1)
    t = np.arange(3 * 44100) / 44100
    notes = np.sin(2 * np.pi * 220 * t) * np.exp(-3 * (t % 0.5))
    x = np.stack([0.3 * notes, 0.25 * np.roll(notes, 300)], 1) + 0.03 * rng.standard_normal((t.size, 2))
    path = tmp_path_factory.mktemp("policy_song") / "song.wav"
    sf.write(path, x.astype(np.float32), 44100, subtype="FLOAT")
    return path


def _run(tmp_path, song, checkpoint, policy: str) -> tuple[dict, object]:
    out = tmp_path / policy
    argv = [str(song), "-o", str(out), "--model", str(checkpoint), "-q", "--removal-model", "dsp-only"]
    extra = {"safe": [], "all": ["--remove", "all"], "none": ["--remove", "none", "--bit-depth", "16"]}[policy]
    assert main(argv + extra) == 0  # safe is the default; none also checks that a PCM copy is exact
    return json.loads((out / "report.json").read_text()), out


def _assert_exact_copy(out, name):
    stem, _ = sf.read(out / "stems" / f"{name}.wav", dtype="float64")  # exact for float32 and 16-bit files
    dry, _ = sf.read(out / "dry" / f"{name}.wav", dtype="float64")
    assert np.array_equal(stem, dry)


@pytest.mark.parametrize("policy", ["none", "safe", "all"])
def test_removal_policies_from_the_command_line(tmp_path, song, tiny_separation_checkpoint, policy):
    report, out = _run(tmp_path, song, tiny_separation_checkpoint, policy)
    assert ("removal" in report["stages"]) == (policy != "none")
    for name, entry in report["stems"].items():
        for effect in entry["analysis"]["effects"]:
            assert {"name", "probability", "detected", "params", "decision"} <= set(effect)
            assert effect["detected"] == (effect["decision"] == "detected")
        assert entry["dry"]["file"] == f"dry/{name}.wav"
        assert entry["removal"]["policy"] == policy
        steps = entry["removals"]
        if policy == "none" or entry["dry"]["unchanged"]:
            _assert_exact_copy(out, name)
        if policy == "none":
            assert steps == [] and entry["dry"]["unchanged"]
            continue
        wanted = {"detected"} if policy == "safe" else {"detected", "unsure"}
        decisions = {e["name"]: e["decision"] for e in entry["analysis"]["effects"]}
        assert all(decisions[s["name"]] in wanted for s in steps)
        for step in steps:
            assert {"name", "method", "kept", "checks"} <= set(step)
            if step["checks"] is not None:
                assert step["checks"]["enforced"] == (policy == "safe")
                assert {"resynthesis", "loudness", "rms", "peak"} <= set(step["checks"])
                if policy == "safe":
                    assert step["kept"] == step["checks"]["passed"]
        if policy == "safe":  # whatever was removed, the dry stem keeps its stem's level
            assert abs(entry["dry"]["loudness_lufs"] - entry["loudness_lufs"]) <= 3.0
    html = (out / "report.html").read_text()
    assert "decision" in html and ("Policy " + policy) in html


def test_an_unknown_policy_is_a_usage_error(tmp_path, song, capsys):
    with pytest.raises(SystemExit):
        main([str(song), "-o", str(tmp_path / "x"), "--remove", "some"])
    from deconstruct.pipeline import Deconstructor

    with pytest.raises(InputError, match="removal policy"):
        Deconstructor(remove="some")


def test_resynthesis_re_applies_only_the_kept_removals():
    from deconstruct.effects.catalog import EffectEstimate
    from deconstruct.effects.chain import chain_from_estimates
    from deconstruct.pipeline import removed_estimates

    delay = {"delay_s": 0.2, "feedback": 0.3, "mix": 0.3}
    analysis = [EffectEstimate("compressor", 0.9, {"threshold_db": -30.0, "ratio": 3.0, "attack_ms": 5.0,
                                                   "release_ms": 100.0}),
                EffectEstimate("delay", 0.45, delay, threshold=0.5), EffectEstimate("chorus", 0.99, {})]
    steps = [{"name": "delay", "method": "dsp", "params": {**delay, "delay_s": 0.21}, "kept": True},
             {"name": "chorus", "method": "pass-through", "params": {}, "kept": False},
             {"name": "compressor", "method": "dsp", "params": {}, "kept": False}]
    chain = chain_from_estimates(removed_estimates(analysis, steps))
    assert [effect.name for effect in chain] == ["delay"] and list(chain)[0].params["delay_s"] == 0.21
    assert removed_estimates(analysis, None) == [] and removed_estimates(analysis, []) == []

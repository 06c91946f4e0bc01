"""nn.Module wrappers driven by normalised parameters."""

from __future__ import annotations

import pytest
import torch

from deconstruct.effects.catalog import effect_spec
from deconstruct.effects.modules import EffectModule, Gain


def test_denormalise_agrees_with_the_catalog():
    module = EffectModule("compressor", 44100)
    unit = torch.tensor([[0.0, 0.5, 1.0, 0.25]])
    physical = module.denormalise(unit)
    for i, spec in enumerate(effect_spec("compressor").params):
        assert float(physical[spec.name][0]) == pytest.approx(spec.denormalise(float(unit[0, i])), rel=1e-5)
    assert {name for name, _ in module.named_buffers()} >= {"ranges.low", "ranges.high", "ranges.log_scale"}


def test_masked_eq_sections_are_bypassed():
    module = EffectModule("eq", 44100)
    x = torch.randn(2, 1, 2000)
    params = torch.rand(2, 13)
    torch.testing.assert_close(module(x, params, torch.zeros(2, 13)), x, atol=1e-5, rtol=0)
    assert not torch.allclose(module(x, params, torch.ones(2, 13)), x, atol=1e-3)


def test_gradients_flow_to_normalised_parameters():
    x = torch.randn(2, 2, 2000) * 0.3
    for name in ("eq", "compressor", "distortion", "chorus", "delay", "limiter"):
        module = EffectModule(name, 16000)
        params = torch.full((2, len(module.spec.params)), 0.4, requires_grad=True)
        module(x, params).pow(2).mean().backward()
        assert torch.isfinite(params.grad).all() and params.grad.abs().sum() > 0, name
    gain = torch.full((2, 1), 0.5, requires_grad=True)
    Gain()(x, gain).pow(2).mean().backward()
    assert gain.grad.abs().sum() > 0


def test_reverb_needs_an_impulse_response_and_params_must_fit():
    with pytest.raises(ValueError, match="impulse_response"):
        EffectModule("reverb", 44100)
    module = EffectModule("reverb", 8000, impulse_response=torch.tensor([[1.0, 0.5]]))
    y = module(torch.ones(1, 1, 4), torch.tensor([[0.0, 1.0]]))  # wet_level 0.6
    torch.testing.assert_close(y[0, 0], torch.tensor([1.0, 1.3, 1.3, 1.3]))
    with pytest.raises(ValueError, match=r"\[batch, 4\]"):
        EffectModule("compressor", 8000).denormalise(torch.zeros(3))

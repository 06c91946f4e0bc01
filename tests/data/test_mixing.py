"""Level and pan of mix tracks."""

from __future__ import annotations

import numpy as np
import pytest

from deconstruct.data.rendering.mixing import active_rms, level, pan


def test_pan_is_constant_power_and_positive_is_left():
    track = np.ones((2, 100), dtype=np.float32)
    assert np.array_equal(pan(track, 0.0), track)
    left = pan(track, 1.0)
    assert left[1].max() == pytest.approx(0.0, abs=1e-6) and left[0, 0] == pytest.approx(np.sqrt(2))
    for position in (-0.7, 0.3):
        power = (pan(track, position) ** 2).sum(axis=0)
        assert np.allclose(power, 2.0)
    with pytest.raises(ValueError, match=r"\[2, samples\]"):
        pan(np.ones((1, 10), dtype=np.float32), 0.0)


def test_level_uses_the_active_part_and_keeps_silence():
    track = np.zeros((2, 44100), dtype=np.float32)
    track[:, :4410] = 0.5  # a short burst in silence
    out = level(track, -20.0)
    assert 20 * np.log10(active_rms(out)) == pytest.approx(-20.0, abs=0.01)
    assert not out[:, 8192:].any()
    assert not level(np.zeros((2, 100), dtype=np.float32), -20.0).any()

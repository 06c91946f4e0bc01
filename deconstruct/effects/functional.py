"""Differentiable effects as pure functions on ``[batch, channels, samples]`` tensors.

Each function follows the definition of the pedalboard (JUCE) processor the data is rendered with, so that an
estimate can be checked or refined by re-rendering (analysis by synthesis):

- :func:`gain`: ``y = 10^(gain_db/20) x``.
- :func:`peak_filter`, :func:`low_shelf`, :func:`high_shelf`, :func:`parametric_eq`: RBJ biquads as JUCE
  ``IIR::Coefficients::makePeakFilter/makeLowShelf/makeHighShelf`` (cut-off clamped to ``[0.01, sr/2 - 100]`` Hz as
  pedalboard does), run by ``torchaudio.functional.lfilter`` (differentiable in signal and coefficients).
- :func:`compressor`: peak envelope follower (attack/release poles ``exp(-2π·1000 / (sr·t_ms))``) and a hard-knee
  gain ``(env/threshold)^(1/ratio - 1)`` above threshold, per channel, as JUCE ``dsp::Compressor``.
- :func:`limiter`: JUCE ``dsp::Limiter``: compressor (-10 dB, 4:1, 2 ms, 200 ms), then compressor (threshold,
  1000:1, 0.001 ms, release), makeup gain ``10^(0.1875) · 10^(-threshold_db/20)``, hard clip at ±1.
- :func:`distortion`: ``y = tanh(10^(drive_db/20) x)``.
- :func:`delay`: ``y = (1-mix) x + mix d``, ``d[n] = x[n-D] + feedback d[n-D]`` with ``D = floor(sr·delay_s)``,
  computed exactly in the frequency domain (geometric series of echoes truncated to the signal length).
- :func:`chorus`: sine-LFO modulated, linearly interpolated delay line (JUCE ``dsp::Chorus`` without feedback).
- :func:`convolve`, :func:`convolution_reverb`: FFT convolution with a room impulse response.

The compressor's envelope and the chorus LFO phase are sample loops compiled with numba and run on the CPU.
Scalar parameters may be Python floats, 0-d tensors or tensors shaped ``[batch]``. Every function raises
``ValueError`` when ``x`` is not 3-D. Freeverb (the algorithmic reverb) has no differentiable version here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from deconstruct.effects.sample_loops import oscillator_phase, peak_envelope
from deconstruct.shapes import check_rank

__all__ = [
    "apply_effect",
    "biquad",
    "chorus",
    "compressor",
    "convolution_reverb",
    "convolve",
    "delay",
    "distortion",
    "gain",
    "high_shelf",
    "high_shelf_coefficients",
    "limiter",
    "low_shelf",
    "low_shelf_coefficients",
    "parametric_eq",
    "peak_coefficients",
    "peak_filter",
]

Param = float | torch.Tensor

SHELF_Q = 1.0 / math.sqrt(2.0)
CHORUS_MAX_MODULATION_MS = 20.0
CHORUS_CENTRE_DELAY_MS = 7.0


def _check(x: torch.Tensor, name: str) -> None:
    check_rank(x, 3, name, "a tensor shaped [batch, channels, samples]")


def _per_batch(value: Param, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A parameter as a ``[batch, 1, 1]`` tensor on ``x``'s device (batch size 1 broadcasts)."""
    tensor = torch.as_tensor(value, device=x.device, dtype=dtype or x.dtype)
    if tensor.dim() > 1 or (tensor.dim() == 1 and tensor.shape[0] not in (1, x.shape[0])):
        raise ValueError(f"a parameter must be a scalar or shaped [batch]={x.shape[0]}, got {tuple(tensor.shape)}")
    return tensor.reshape(-1, 1, 1).expand(x.shape[0], 1, 1)


def gain(x: torch.Tensor, gain_db: Param) -> torch.Tensor:
    """Scale by ``gain_db`` decibels.

    Shape:
        x: ``[batch, channels, samples]`` → same.
    """
    _check(x, "gain")
    return x * torch.pow(10.0, _per_batch(gain_db, x) / 20.0)


def distortion(x: torch.Tensor, drive_db: Param) -> torch.Tensor:
    """``tanh`` waveshaper after a drive gain (pedalboard ``Distortion``).

    Shape:
        x: ``[batch, channels, samples]`` → same.
    """
    _check(x, "distortion")
    return torch.tanh(x * torch.pow(10.0, _per_batch(drive_db, x) / 20.0))


# --- biquads ------------------------------------------------------------------------------------------------


def _omega(frequency_hz: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Normalised angular frequency with pedalboard's and JUCE's clamps of the cut-off."""
    frequency = frequency_hz.clamp(0.01, sample_rate / 2 - 100.0).clamp_min(2.0)
    return 2.0 * math.pi * frequency / sample_rate


def _normalised(b: list[torch.Tensor], a: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    b_stack, a_stack = torch.stack(b, dim=-1), torch.stack(a, dim=-1)
    a0 = a_stack[..., :1]
    return b_stack / a0, a_stack / a0


def _design_inputs(*values: Param, batch: int) -> list[torch.Tensor]:
    tensors = [torch.as_tensor(v, dtype=torch.float64) for v in values]
    device = next((t.device for t in tensors if t.dim() > 0), tensors[0].device)
    return [t.to(device).reshape(-1).expand(batch) if t.numel() == 1 else t.reshape(-1) for t in tensors]


def peak_coefficients(
    center_hz: Param, gain_db: Param, q: Param, sample_rate: int, batch: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Peaking-filter biquad (JUCE ``makePeakFilter``).

    Returns:
        ``(b, a)``, float64, each ``[batch, 3]``, normalised so ``a[:, 0] == 1``.
    """
    center_hz, gain_db, q = _design_inputs(center_hz, gain_db, q, batch=batch)
    amplitude = torch.pow(10.0, gain_db / 40.0)
    omega = _omega(center_hz, sample_rate)
    alpha = torch.sin(omega) / (2.0 * q)
    c2 = -2.0 * torch.cos(omega)
    return _normalised(
        [1.0 + alpha * amplitude, c2, 1.0 - alpha * amplitude],
        [1.0 + alpha / amplitude, c2, 1.0 - alpha / amplitude],
    )


def _shelf_terms(cutoff_hz: Param, gain_db: Param, q: Param, sample_rate: int, batch: int):
    cutoff_hz, gain_db, q = _design_inputs(cutoff_hz, gain_db, q, batch=batch)
    amplitude = torch.pow(10.0, gain_db / 40.0)
    omega = _omega(cutoff_hz, sample_rate)
    cos_omega = torch.cos(omega)
    beta = torch.sin(omega) * torch.sqrt(amplitude) / q
    return amplitude, amplitude - 1.0, amplitude + 1.0, cos_omega, beta


def low_shelf_coefficients(
    cutoff_hz: Param, gain_db: Param, sample_rate: int, q: Param = SHELF_Q, batch: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Low-shelf biquad (JUCE ``makeLowShelf``). Returns ``(b, a)``, float64 ``[batch, 3]``, ``a0 == 1``."""
    amp, am1, ap1, cos_w, beta = _shelf_terms(cutoff_hz, gain_db, q, sample_rate, batch)
    am1_cos = am1 * cos_w
    return _normalised(
        [amp * (ap1 - am1_cos + beta), amp * 2.0 * (am1 - ap1 * cos_w), amp * (ap1 - am1_cos - beta)],
        [ap1 + am1_cos + beta, -2.0 * (am1 + ap1 * cos_w), ap1 + am1_cos - beta],
    )


def high_shelf_coefficients(
    cutoff_hz: Param, gain_db: Param, sample_rate: int, q: Param = SHELF_Q, batch: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """High-shelf biquad (JUCE ``makeHighShelf``). Returns ``(b, a)``, float64 ``[batch, 3]``, ``a0 == 1``."""
    amp, am1, ap1, cos_w, beta = _shelf_terms(cutoff_hz, gain_db, q, sample_rate, batch)
    am1_cos = am1 * cos_w
    return _normalised(
        [amp * (ap1 + am1_cos + beta), amp * -2.0 * (am1 + ap1 * cos_w), amp * (ap1 + am1_cos - beta)],
        [ap1 - am1_cos + beta, 2.0 * (am1 - ap1 * cos_w), ap1 - am1_cos - beta],
    )


def biquad(x: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Filter each batch item with its own second-order section (computed in float64, no output clamp).

    Args:
        x: signal ``[batch, channels, samples]``.
        b: numerator ``[batch, 3]`` (or ``[1, 3]`` for all items).
        a: denominator ``[batch, 3]``, ``a[:, 0] == 1``.

    Returns:
        The filtered signal, ``x``'s shape and dtype.
    """
    _check(x, "biquad")
    import torchaudio.functional as AF

    batch = x.shape[0]
    b = b.to(x.device, torch.float64).expand(batch, 3)
    a = a.to(x.device, torch.float64).expand(batch, 3)
    signal = x.to(torch.float64).transpose(0, 1)  # [channels, batch, samples]: one filter per batch item
    filtered = AF.lfilter(signal, a, b, clamp=False, batching=True)
    return filtered.transpose(0, 1).to(x.dtype)


def peak_filter(x: torch.Tensor, sample_rate: int, center_hz: Param, gain_db: Param, q: Param) -> torch.Tensor:
    """Peaking EQ band (pedalboard ``PeakFilter``). Shape: ``[batch, channels, samples]`` → same."""
    _check(x, "peak_filter")
    return biquad(x, *peak_coefficients(center_hz, gain_db, q, sample_rate, batch=x.shape[0]))


def low_shelf(x: torch.Tensor, sample_rate: int, cutoff_hz: Param, gain_db: Param, q: Param = SHELF_Q) -> torch.Tensor:
    """Low shelf (pedalboard ``LowShelfFilter``). Shape: ``[batch, channels, samples]`` → same."""
    _check(x, "low_shelf")
    return biquad(x, *low_shelf_coefficients(cutoff_hz, gain_db, sample_rate, q, batch=x.shape[0]))


def high_shelf(x: torch.Tensor, sample_rate: int, cutoff_hz: Param, gain_db: Param, q: Param = SHELF_Q) -> torch.Tensor:
    """High shelf (pedalboard ``HighShelfFilter``). Shape: ``[batch, channels, samples]`` → same."""
    _check(x, "high_shelf")
    return biquad(x, *high_shelf_coefficients(cutoff_hz, gain_db, sample_rate, q, batch=x.shape[0]))


def parametric_eq(x: torch.Tensor, sample_rate: int, params: Mapping[str, Param]) -> torch.Tensor:
    """The catalog EQ: low shelf, peaking bands 1-3, high shelf, each applied when its parameters are given.

    Args:
        x: signal ``[batch, channels, samples]``.
        sample_rate: Hz.
        params: catalog names (``low_shelf_gain_db``, ``low_shelf_cutoff_hz``, ``peak1_gain_db``,
            ``peak1_center_hz``, ``peak1_q``, ..., ``high_shelf_cutoff_hz``); absent sections are bypassed.

    Returns:
        The equalised signal, same shape.
    """
    _check(x, "parametric_eq")
    if "low_shelf_gain_db" in params:
        x = low_shelf(x, sample_rate, params["low_shelf_cutoff_hz"], params["low_shelf_gain_db"])
    for band in (1, 2, 3):
        if f"peak{band}_gain_db" in params:
            x = peak_filter(
                x, sample_rate, params[f"peak{band}_center_hz"], params[f"peak{band}_gain_db"], params[f"peak{band}_q"]
            )
    if "high_shelf_gain_db" in params:
        x = high_shelf(x, sample_rate, params["high_shelf_cutoff_hz"], params["high_shelf_gain_db"])
    return x


# --- dynamics -----------------------------------------------------------------------------------------------


def _ballistic_pole(time_ms: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """JUCE ``BallisticsFilter`` pole ``exp(-2π·1000 / (sr·t))`` (0 below 0.001 ms)."""
    pole = torch.exp(-2.0 * math.pi * 1000.0 / (sample_rate * time_ms.clamp_min(1e-3)))
    return torch.where(time_ms < 1e-3, torch.zeros_like(pole), pole)


def compressor(
    x: torch.Tensor, sample_rate: int, threshold_db: Param, ratio: Param, attack_ms: Param, release_ms: Param
) -> torch.Tensor:
    """Hard-knee feed-forward compressor with a per-channel peak envelope (pedalboard ``Compressor``).

    Differentiable in ``x`` and all four parameters (the attack/release switching itself is piecewise constant).
    The envelope's sample loop runs on the CPU.

    Shape:
        x: ``[batch, channels, samples]`` → same.
    """
    _check(x, "compressor")
    batch, channels, samples = x.shape
    threshold = torch.pow(10.0, _per_batch(threshold_db, x) / 20.0)
    exponent = 1.0 / _per_batch(ratio, x) - 1.0
    c_attack = _ballistic_pole(_per_batch(attack_ms, x), sample_rate).expand(batch, channels, 1).reshape(-1)
    c_release = _ballistic_pole(_per_batch(release_ms, x), sample_rate).expand(batch, channels, 1).reshape(-1)
    envelope = peak_envelope(x.abs().reshape(-1, samples), c_attack, c_release).reshape(x.shape)
    return x * torch.pow(torch.maximum(envelope, threshold) / threshold, exponent)


def limiter(x: torch.Tensor, sample_rate: int, threshold_db: Param, release_ms: Param) -> torch.Tensor:
    """Two-stage limiter with makeup gain and a hard clip at ±1 (pedalboard ``Limiter``).

    Shape:
        x: ``[batch, channels, samples]`` → same.
    """
    _check(x, "limiter")
    y = compressor(x, sample_rate, -10.0, 4.0, 2.0, 200.0)
    y = compressor(y, sample_rate, threshold_db, 1000.0, 0.001, release_ms)
    makeup = 10.0 ** (10.0 * (1.0 - 1.0 / 4.0) / 40.0) * torch.pow(10.0, -_per_batch(threshold_db, x) / 20.0)
    return (y * makeup).clamp(-1.0, 1.0)


# --- time-based ---------------------------------------------------------------------------------------------


def _straight_through_floor(value: torch.Tensor) -> torch.Tensor:
    """``floor`` in the forward pass, identity in the backward pass."""
    return value + (torch.floor(value) - value).detach()


def delay(x: torch.Tensor, sample_rate: int, delay_s: Param, feedback: Param, mix: Param) -> torch.Tensor:
    """Feedback delay (pedalboard ``Delay``): echoes every ``D`` samples, each ``feedback`` times the last.

    ``D = floor(sr · delay_s)`` as pedalboard (with ``delay_s`` rounded to float32 first); the gradient with respect to
    ``delay_s`` passes straight through the floor (the frequency-domain echo is a band-limited fractional delay).

    Shape:
        x: ``[batch, channels, samples]`` → same.
    """
    _check(x, "delay")
    samples = x.shape[-1]
    delay_s_t = _per_batch(delay_s, x, torch.float64)
    steps = _straight_through_floor(delay_s_t.float().double() * sample_rate).clamp_min(1.0)  # [batch, 1, 1]
    feedback_t, mix_t = _per_batch(feedback, x, torch.float64), _per_batch(mix, x, torch.float64)
    echoes = torch.ceil(samples / steps.detach()) - 1.0  # echoes inside the signal: k·D < samples
    size = 1 << (2 * samples - 1).bit_length()
    omega = 2.0 * math.pi * torch.fft.rfftfreq(size, device=x.device, dtype=torch.float64)
    rotation = torch.polar(torch.ones_like(omega), -omega * steps)  # e^{-iωD}, [batch, 1, freq]
    ratio = feedback_t * rotation
    tail = torch.polar(torch.pow(feedback_t, echoes), -omega * steps * echoes)  # (fb e^{-iωD})^K
    denominator = 1.0 - ratio
    near_pole = denominator.abs() < 1e-12
    series = torch.where(near_pole, echoes.to(ratio.dtype), (1.0 - tail) / torch.where(near_pole, 1.0, denominator))
    response = (1.0 - mix_t) + mix_t * rotation * series
    spectrum = torch.fft.rfft(x.to(torch.float64), n=size)
    return torch.fft.irfft(spectrum * response, n=size)[..., :samples].to(x.dtype)


def _lfo(rate_hz: Param, x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """JUCE's chorus LFO ``sin(phase - π)``, ``[batch, 1, samples]`` float64.

    The value follows JUCE's float32 phase accumulation exactly; the gradient with respect to the rate is that
    of the ideal phase ``2π·rate·n/sr``.
    """
    batch, _, samples = x.shape
    rate = _per_batch(rate_hz, x, torch.float64)
    n = torch.arange(samples, device=x.device, dtype=torch.float64)
    ideal = 2.0 * math.pi * rate * n / sample_rate
    exact = torch.stack(
        [torch.from_numpy(oscillator_phase(float(r), sample_rate, samples)) for r in rate.detach().reshape(-1).cpu()]
    ).to(x.device, torch.float64)[:, None, :]
    phase = ideal + (exact - ideal).detach()
    return torch.sin(phase - math.pi)


def chorus(
    x: torch.Tensor,
    sample_rate: int,
    rate_hz: Param,
    depth: Param,
    mix: Param,
    centre_delay_ms: Param = CHORUS_CENTRE_DELAY_MS,
) -> torch.Tensor:
    """Chorus without feedback (pedalboard ``Chorus(feedback=0)``).

    The delay is ``max(1, centre_delay_ms + 10·depth·lfo[n])`` ms with ``lfo[n] = sin(2π·rate_hz·n/sr - π)``
    (JUCE's oscillator, phase accumulated as JUCE does), read with linear interpolation; ``y = (1-mix) x + mix·wet``.

    Shape:
        x: ``[batch, channels, samples]`` → same.
    """
    _check(x, "chorus")
    batch, channels, samples = x.shape
    modulation = CHORUS_MAX_MODULATION_MS * 0.5 * _per_batch(depth, x, torch.float64) * _lfo(rate_hz, x, sample_rate)
    delay_ms = (modulation + _per_batch(centre_delay_ms, x, torch.float64)).clamp_min(1.0)
    delay_samples = delay_ms * sample_rate / 1000.0  # [batch, 1, samples]
    whole = torch.floor(delay_samples).detach()
    fraction = (delay_samples - whole).to(x.dtype)
    pad = int(whole.max().item()) + 2
    padded = torch.nn.functional.pad(x, (pad, 0))
    n = torch.arange(samples, device=x.device)
    index = (n + pad - whole.long()).expand(batch, channels, samples)
    newer = torch.gather(padded, -1, index)  # x[n - floor(d)]
    older = torch.gather(padded, -1, index - 1)  # x[n - floor(d) - 1]
    wet = newer + fraction * (older - newer)
    mix_t = _per_batch(mix, x)
    return (1.0 - mix_t) * x + mix_t * wet


def convolve(x: torch.Tensor, impulse_response: torch.Tensor) -> torch.Tensor:
    """Linear convolution by FFT, truncated to the input length.

    Args:
        x: signal ``[batch, channels, samples]``.
        impulse_response: ``[channels, taps]`` or ``[1, taps]`` (one response for every channel), or
            ``[batch, channels, taps]``.

    Returns:
        ``x * h`` restricted to the first ``samples`` samples, ``x``'s shape and dtype.
    """
    _check(x, "convolve")
    if impulse_response.dim() not in (2, 3):
        shape = tuple(impulse_response.shape)
        raise ValueError(f"impulse_response must be [channels, taps] or [batch, channels, taps], got {shape}")
    samples, taps = x.shape[-1], impulse_response.shape[-1]
    size = 1 << (samples + taps - 2).bit_length()
    spectrum = torch.fft.rfft(x.to(torch.float64), n=size)
    response = torch.fft.rfft(impulse_response.to(x.device, torch.float64), n=size)
    return torch.fft.irfft(spectrum * response, n=size)[..., :samples].to(x.dtype)


def convolution_reverb(x: torch.Tensor, impulse_response: torch.Tensor, wet_level: Param) -> torch.Tensor:
    """``(1 - wet_level) x + wet_level (x * h)`` with a (pre-processed) room impulse response ``h``.

    See :func:`deconstruct.effects.rir.load_rir` for how measured responses are trimmed and normalised.

    Shape:
        x: ``[batch, channels, samples]`` → same; ``impulse_response`` as in :func:`convolve`.
    """
    _check(x, "convolution_reverb")
    wet = _per_batch(wet_level, x)
    return (1.0 - wet) * x + wet * convolve(x, impulse_response)


def apply_effect(
    x: torch.Tensor,
    sample_rate: int,
    name: str,
    params: Mapping[str, Param],
    impulse_response: torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply catalog effect ``name`` with physical ``params`` (floats or ``[batch]`` tensors).

    Reverb needs ``impulse_response`` (convolution variant): Freeverb has no differentiable version.

    Shape:
        x: ``[batch, channels, samples]`` → same.

    Raises:
        ValueError: unknown effect, or reverb without an impulse response.
    """
    if name == "eq":
        return parametric_eq(x, sample_rate, params)
    if name == "compressor":
        keys = ("threshold_db", "ratio", "attack_ms", "release_ms")
        return compressor(x, sample_rate, *(params[k] for k in keys))
    if name == "distortion":
        return distortion(x, params["drive_db"])
    if name == "chorus":
        return chorus(x, sample_rate, params["rate_hz"], params["depth"], params["mix"])
    if name == "delay":
        return delay(x, sample_rate, params["delay_s"], params["feedback"], params["mix"])
    if name == "reverb":
        if impulse_response is None:
            raise ValueError(
                "the differentiable reverb is convolution only: pass an impulse_response "
                "(Freeverb renders through deconstruct.effects.render)"
            )
        return convolution_reverb(x, impulse_response, params["wet_level"])
    if name == "limiter":
        return limiter(x, sample_rate, params["threshold_db"], params["release_ms"])
    raise ValueError(f"unknown effect {name!r}")

"""Singing-like vocal stems from real voice recordings: speech and choir takes re-sung to a melody.

A recorded voice is analysed once (fundamental frequency, voicing, pitch marks) and then re-synthesised by
TD-PSOLA (Moulines & Charpentier, "Pitch-synchronous waveform processing techniques for text-to-speech synthesis
using diphones", Speech Communication 1990): two-period grains cut around the source's pitch marks are laid down
at the melody's period, which moves the pitch and keeps the formants (the vowels and the speaker) in place. On top:

- voiced stretches are slowed down more than consonants, so syllables turn into held sung vowels;
- the melody's pitch curve carries vibrato, glides and intonation drift (:mod:`deconstruct.data.rendering.expression`);
- grains may be resampled to shift the formants (a different-sounding singer) without touching the pitch;
- rests of the melody are silent and phrases restart on a fresh syllable;
- sources recorded at a low rate (16 kHz speech) get their missing top octave back from a light exciter, so a
  band-limited top end does not give the vocal stem away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from deconstruct.audio import load_audio, resample
from deconstruct.data.rendering.expression import Expression, pitch_curve
from deconstruct.data.rendering.notes import Part
from deconstruct.data.material.recordings import train_voice_files

F0_RANGE_HZ = (65.0, 700.0)
_HOP_S = 0.005


@dataclass(frozen=True)
class VoiceRecording:
    """An analysed mono voice recording.

    Attributes:
        name: file name.
        samples: float32 ``[samples]`` at the library's rate, RMS-normalised.
        marks: pitch-mark sample positions (one per period when voiced, every 5 ms otherwise).
        periods: grain half-length in samples at each mark.
        voiced: whether each mark lies in a voiced stretch.
        median_f0_hz: median fundamental over voiced frames.
        bandwidth_hz: the original recording's Nyquist frequency (content above it is missing).
    """

    name: str
    samples: np.ndarray
    marks: np.ndarray
    periods: np.ndarray
    voiced: np.ndarray
    median_f0_hz: float
    bandwidth_hz: float


def estimate_f0(x: np.ndarray, sample_rate: int, hop_s: float = _HOP_S) -> tuple[np.ndarray, np.ndarray]:
    """Frame-wise fundamental frequency by normalised autocorrelation on an 11 kHz copy.

    Shape:
        x: ``[samples]`` → (f0_hz ``[frames]``, voiced ``[frames]`` bool); frame ``k`` is centred on ``k * hop_s``.
    """
    rate = 11025
    y = resample_np(x, sample_rate, rate)
    frame, hop = 512, max(1, int(round(hop_s * rate)))
    pad = np.pad(y, (frame // 2, frame // 2))
    count = 1 + (len(pad) - frame) // hop
    frames = np.lib.stride_tricks.as_strided(pad, (count, frame), (pad.strides[0] * hop, pad.strides[0]))
    frames = (frames - frames.mean(axis=1, keepdims=True)) * np.hanning(frame)
    spectrum = np.fft.rfft(frames, 2 * frame, axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :frame]
    window_acf = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(frame), 2 * frame)) ** 2)[:frame]
    acf = acf / np.maximum(acf[:, :1], 1e-12) / np.maximum(window_acf / window_acf[0], 1e-3)
    lo, hi = int(rate / F0_RANGE_HZ[1]), int(rate / F0_RANGE_HZ[0])
    search = acf[:, lo:hi]
    # the shortest lag that comes close to the best one: avoids picking a multiple of the period (octave errors)
    first = np.argmax(search >= 0.85 * search.max(axis=1, keepdims=True), axis=1)
    window = np.arange(lo // 2 + 1)
    candidates = np.minimum(first[:, None] + window[None, :], search.shape[1] - 1)
    lag = lo + candidates[np.arange(count), np.argmax(np.take_along_axis(search, candidates, axis=1), axis=1)]
    strength = acf[np.arange(count), lag]
    energy = np.sqrt((frames ** 2).mean(axis=1))
    voiced = (strength > 0.55) & (energy > 0.05 * energy.max())
    # parabolic refinement of the lag
    left, right = acf[np.arange(count), lag - 1], acf[np.arange(count), np.minimum(lag + 1, frame - 1)]
    shift = 0.5 * (left - right) / np.where(np.abs(left - 2 * strength + right) < 1e-9, 1e-9,
                                            left - 2 * strength + right)
    f0 = rate / (lag + np.clip(shift, -1, 1))
    return f0, voiced


def resample_np(x: np.ndarray, from_sr: int, to_sr: int) -> np.ndarray:
    """Band-limited resampling of a 1-D float array (polyphase)."""
    if from_sr == to_sr:
        return x.astype(np.float32)
    from math import gcd

    g = gcd(int(from_sr), int(to_sr))
    return signal.resample_poly(x, to_sr // g, from_sr // g).astype(np.float32)


def analyse(name: str, x: np.ndarray, sample_rate: int, bandwidth_hz: float) -> VoiceRecording | None:
    """Pitch-mark a mono recording; None when it holds (almost) no voiced sound."""
    x = x.astype(np.float32)
    x = x - x.mean()
    f0, voiced = estimate_f0(x, sample_rate)
    if voiced.sum() < 10:
        return None
    hop = _HOP_S * sample_rate
    smooth = signal.sosfiltfilt(signal.butter(2, 900.0, fs=sample_rate, output="sos"), x)
    marks, periods, flags = [], [], []
    position = int(hop)
    while position < len(x) - 1:
        frame = min(int(round(position / hop)), len(f0) - 1)
        if voiced[frame]:
            period = int(round(sample_rate / f0[frame]))
            lo, hi = max(0, position - period // 4), min(len(x), position + period // 4 + 1)
            position = lo + int(np.argmax(smooth[lo:hi]))  # lock the mark to the period's main peak
            marks.append(position), periods.append(period), flags.append(True)
            position += period
        else:
            marks.append(position), periods.append(int(hop)), flags.append(False)
            position += int(hop)
    rms = float(np.sqrt(np.mean(x ** 2)))
    return VoiceRecording(name, x / max(rms, 1e-6) * 0.1, np.array(marks), np.array(periods), np.array(flags),
                          float(np.median(f0[voiced])), float(bandwidth_hz))


class VoiceLibrary:
    """Analysed voice recordings and the PSOLA singer that re-sings them.

    Args:
        recordings: analysed recordings (see :meth:`from_files`).
        sample_rate: rate of the recordings and of the output, Hz.
    """

    def __init__(self, recordings: Sequence[VoiceRecording], sample_rate: int) -> None:
        self.recordings = tuple(recordings)
        self.sample_rate = int(sample_rate)

    def __len__(self) -> int:
        return len(self.recordings)

    @classmethod
    def from_files(cls, paths: Sequence[Path], sample_rate: int = 44100) -> VoiceLibrary:
        """Load and analyse mono/stereo voice files (stereo is averaged)."""
        recordings = []
        for path in paths:
            audio = load_audio(path)
            mono = audio.samples.mean(dim=0, keepdim=True)
            x = resample(mono, audio.sample_rate, sample_rate)[0].numpy()
            analysed = analyse(Path(path).name, x, sample_rate, audio.sample_rate / 2.0)
            if analysed is not None:
                recordings.append(analysed)
        return cls(recordings, sample_rate)

    @classmethod
    def default(cls, sample_rate: int = 44100) -> VoiceLibrary | None:
        """The ``train`` voices of the shared data set; None when that folder is absent."""
        files = train_voice_files()
        return cls.from_files(files, sample_rate) if files else None

    def sing(self, part: Part, num_samples: int, start_s: float, rng: np.random.Generator,
             expression: Expression | None = None, transpose: int | None = None) -> np.ndarray:
        """Sing the monophonic ``part`` with a randomly drawn recording.

        Args:
            part: the melody (its notes' pitch, timing and velocity are used).
            num_samples: output length.
            start_s: the piece's time at the first output sample.
            rng: random source (recording, formant shift, stretch rates, expression).
            expression: vibrato and glides; drawn when None.
            transpose: semitones added to the melody; None moves it by octaves next to the recorded voice's own
                register plus a random -3..+3 semitones.

        Returns:
            ``[2, num_samples]`` float32, the same signal on both channels (a dry, centred vocal).
        """
        sr = self.sample_rate
        out = np.zeros(num_samples, dtype=np.float32)
        if not self.recordings:
            return np.stack([out, out])
        voice = self.recordings[int(rng.integers(len(self.recordings)))]
        expression = expression or Expression.draw(rng)
        notes = [n for n in part.notes if n.offset_s > start_s and n.onset_s < start_s + num_samples / sr]
        if not notes:
            return np.stack([out, out])
        if transpose is None:  # by octaves, so the melody sits near the speaker's own register
            melody_hz = 440.0 * 2.0 ** ((np.median([n.pitch for n in notes]) - 69) / 12.0)
            octaves = int(np.round(np.log2(voice.median_f0_hz / melody_hz)))
            transpose = 12 * octaves + int(rng.integers(-3, 4))
        step = 0.002
        times = start_s + np.arange(0.0, num_samples / sr + step, step)
        target = pitch_curve(part, times, expression, rng) + transpose
        gate = _gate(notes, times, rng)
        formant = float(rng.uniform(0.88, 1.12))
        voiced_rate, unvoiced_rate = float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.8, 1.1))

        x, marks, periods, voiced = voice.samples, voice.marks, voice.periods, voice.voiced
        source = float(rng.uniform(0, len(x)))
        t = 0.0  # output position in samples
        was_on = False
        while t < num_samples:
            frame = min(int(t / sr / step), len(times) - 1)
            if gate[frame] <= 0.0:
                t += 0.005 * sr
                was_on = False
                continue
            if not was_on:  # a new phrase starts on a fresh syllable
                source = _next_onset(marks, voiced, float(rng.uniform(0, len(x))))
                was_on = True
            k = int(np.clip(np.searchsorted(marks, source), 0, len(marks) - 1))
            half = int(periods[k])
            if voiced[k] and np.isfinite(target[frame]):
                period_out = sr / (440.0 * 2.0 ** ((target[frame] - 69.0) / 12.0))
                rate = voiced_rate
            else:
                period_out, rate = float(half), unvoiced_rate
            centre = int(marks[k])
            lo, hi = max(0, centre - half), min(len(x), centre + half)
            grain = x[lo:hi] * np.hanning(hi - lo).astype(np.float32)
            if formant != 1.0 and len(grain) > 4:
                length = max(4, int(round(len(grain) / formant)))
                grain = np.interp(np.linspace(0, len(grain) - 1, length), np.arange(len(grain)), grain)
            scale = min(2.0, period_out / max(half, 1)) * gate[frame]
            position = int(round(t)) - len(grain) // 2
            a, b = max(0, position), min(num_samples, position + len(grain))
            if b > a:
                out[a:b] += grain[a - position: b - position] * np.float32(scale)
            t += max(period_out, 16.0)
            source += rate * period_out
            if source >= marks[-1]:
                source = float(marks[0])
        if voice.bandwidth_hz < 0.45 * sr:
            out = out + _air(out, voice.bandwidth_hz, sr, rng)
        return np.stack([out, out])


def _gate(notes: Sequence, times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Loudness envelope of the sung line: velocity-scaled notes with short attacks and releases, 0 in rests."""
    gate = np.zeros(times.shape)
    attack, release = float(rng.uniform(0.01, 0.04)), float(rng.uniform(0.03, 0.08))
    for note in notes:
        local = times - note.onset_s
        env = np.clip(local / attack, 0.0, 1.0) * np.clip((note.duration_s + release - local) / release, 0.0, 1.0)
        env[(local < 0) | (local > note.duration_s + release)] = 0.0
        gate = np.maximum(gate, env * (0.4 + 0.6 * note.velocity / 127.0))
    return gate


def _next_onset(marks: np.ndarray, voiced: np.ndarray, position: float) -> float:
    """The source position ~30 ms before the next unvoiced-to-voiced transition after ``position`` (wrapping)."""
    starts = np.flatnonzero(voiced[1:] & ~voiced[:-1]) + 1
    if len(starts) == 0:
        return position
    after = starts[marks[starts] > position]
    index = after[0] if len(after) else starts[0]
    return float(marks[max(0, index - 6)])


def _air(x: np.ndarray, bandwidth_hz: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Harmonics above ``bandwidth_hz`` from full-wave rectifying the top octave below it (a light exciter)."""
    nyquist = sample_rate / 2.0
    lo, hi = bandwidth_hz / 2.5, bandwidth_hz * 0.95
    band = signal.sosfilt(signal.butter(2, [lo, hi], btype="band", fs=sample_rate, output="sos"), x)
    generated = signal.sosfilt(signal.butter(4, min(bandwidth_hz, 0.95 * nyquist), btype="high", fs=sample_rate,
                                             output="sos"), np.abs(band))
    band_rms, gen_rms = np.sqrt(np.mean(band ** 2)), np.sqrt(np.mean(generated ** 2))
    if gen_rms <= 1e-9:
        return np.zeros_like(x)
    return (generated * (band_rms / gen_rms * 10.0 ** (-float(rng.uniform(10.0, 20.0)) / 20.0))).astype(np.float32)

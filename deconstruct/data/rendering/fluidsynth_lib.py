"""A minimal ctypes binding to the FluidSynth library (Debian package ``libfluidsynth3``, pulled in by ``fluidsynth``).

Only what offline, sample-exact, multi-output rendering needs: float output with one stereo pair per MIDI channel
(``fluid_synth_process``), so every instrument of a multitrack comes out of one pass as its own dry stem.

Determinism: FluidSynth processes audio in blocks of :data:`BLOCK` samples and applies MIDI events at block
boundaries; a voice slot it reuses also starts from the amplitude its previous note left behind. :meth:`Synth.reset`
puts every voice slot into one canonical state, so the same events rendered after a reset give bit-identical audio
whatever was rendered before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from pathlib import Path

import numpy as np

from deconstruct.errors import DependencyError

BLOCK = 64  # FluidSynth's internal block size in samples
_CHANNEL_TYPE_MELODIC, _CHANNEL_TYPE_DRUM = 0, 1
_FLUID_FAILED = -1
_P = ctypes.c_void_p


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    """Load libfluidsynth and declare the functions used here.

    Raises:
        DependencyError: the library is not installed.
    """
    name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise DependencyError(
            "the FluidSynth library is missing; install it (Debian/Ubuntu: apt-get install fluidsynth)"
        ) from None
    signatures = {
        "new_fluid_settings": (_P, []),
        "delete_fluid_settings": (None, [_P]),
        "fluid_settings_setint": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int]),
        "fluid_settings_setnum": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_double]),
        "new_fluid_synth": (_P, [_P]),
        "delete_fluid_synth": (None, [_P]),
        "fluid_synth_sfload": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int]),
        "fluid_synth_program_select": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
        "fluid_synth_set_channel_type": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int]),
        "fluid_synth_noteon": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
        "fluid_synth_noteoff": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int]),
        "fluid_synth_cc": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
        "fluid_synth_pitch_bend": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int]),
        "fluid_synth_pitch_wheel_sens": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int]),
        "fluid_synth_system_reset": (ctypes.c_int, [_P]),
        "fluid_synth_all_sounds_off": (ctypes.c_int, [_P, ctypes.c_int]),
        "fluid_synth_get_active_voice_count": (ctypes.c_int, [_P]),
        "fluid_synth_process": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int, _P, ctypes.c_int, _P]),
        "fluid_set_log_function": (_P, [ctypes.c_int, _P, _P]),
    }
    for fname, (restype, argtypes) in signatures.items():
        func = getattr(lib, fname)
        func.restype, func.argtypes = restype, argtypes
    for level in range(5):  # panic, error, warning, info, debug: failures are reported through return codes
        lib.fluid_set_log_function(level, None, None)
    return lib


class Synth:
    """One FluidSynth instance with a soundfont loaded, reverb and chorus off, one stereo output per MIDI channel.

    Args:
        soundfont: path of an ``.sf2``/``.sf3`` file.
        sample_rate: output rate in Hz.
        channels: MIDI channels, each with its own stereo output (at most 16 instruments per render).
        polyphony: voices available to all channels together.
        gain: FluidSynth's master gain (linear).
    """

    def __init__(self, soundfont: Path, sample_rate: int = 44100, channels: int = 16, polyphony: int = 256,
                 gain: float = 0.5) -> None:
        self._lib = lib = library()
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.polyphony = int(polyphony)
        self._settings = lib.new_fluid_settings()
        for key, value in (("synth.midi-channels", self.channels), ("synth.audio-groups", self.channels),
                           ("synth.audio-channels", self.channels), ("synth.polyphony", self.polyphony),
                           ("synth.reverb.active", 0), ("synth.chorus.active", 0), ("synth.cpu-cores", 1)):
            lib.fluid_settings_setint(self._settings, key.encode(), value)
        lib.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(sample_rate))
        lib.fluid_settings_setnum(self._settings, b"synth.gain", float(gain))
        self._synth = lib.new_fluid_synth(self._settings)
        if not self._synth:
            lib.delete_fluid_settings(self._settings)
            raise DependencyError("FluidSynth could not create a synthesizer (out of memory?)")
        self._sfont = lib.fluid_synth_sfload(self._synth, str(soundfont).encode(), 1)
        if self._sfont == _FLUID_FAILED:
            self.close()
            raise DependencyError(f"{soundfont}: FluidSynth cannot read this soundfont; reinstall fluid-soundfont-gm")
        self._pointers = (ctypes.c_void_p * (2 * self.channels))()
        self._scratch = np.zeros((2 * self.channels, 2 * BLOCK), dtype=np.float32)

    def close(self) -> None:
        """Free the synthesizer (the object is unusable afterwards)."""
        if getattr(self, "_synth", None):
            self._lib.delete_fluid_synth(self._synth)
            self._synth = None
        if getattr(self, "_settings", None):
            self._lib.delete_fluid_settings(self._settings)
            self._settings = None

    def __del__(self) -> None:
        self.close()

    def select(self, channel: int, program: int, is_drum: bool) -> bool:
        """Put ``program`` (a kit number when ``is_drum``) on ``channel``; False when the soundfont lacks it."""
        lib = self._lib
        lib.fluid_synth_set_channel_type(self._synth, channel, _CHANNEL_TYPE_DRUM if is_drum else _CHANNEL_TYPE_MELODIC)
        lib.fluid_synth_pitch_wheel_sens(self._synth, channel, 12)
        bank = 128 if is_drum else 0
        return lib.fluid_synth_program_select(self._synth, channel, self._sfont, bank, program) != _FLUID_FAILED

    def noteon(self, channel: int, key: int, velocity: int) -> None:
        self._lib.fluid_synth_noteon(self._synth, channel, key, velocity)

    def noteoff(self, channel: int, key: int) -> None:
        self._lib.fluid_synth_noteoff(self._synth, channel, key)

    def pitch_bend(self, channel: int, semitones: float) -> None:
        """Bend ``channel`` by ``semitones`` (range ±12, the wheel sensitivity :meth:`select` sets)."""
        value = int(round(8192 + semitones / 12.0 * 8192))
        self._lib.fluid_synth_pitch_bend(self._synth, channel, min(max(value, 0), 16383))

    def process(self, out: np.ndarray, start: int, stop: int) -> None:
        """Add the synth's output for samples ``[start, stop)`` into ``out``.

        Shape:
            out: ``[2 * channels, samples]`` float32, C-contiguous: rows ``2c`` and ``2c + 1`` are channel ``c``'s
            left and right.
        """
        if stop <= start:
            return
        base, stride = out.ctypes.data + 4 * start, out.strides[0]
        for row in range(2 * self.channels):
            self._pointers[row] = base + row * stride
        self._lib.fluid_synth_process(self._synth, stop - start, 0, None, 2 * self.channels, self._pointers)

    def reset(self) -> None:
        """Silence everything and put every voice slot into one canonical state (see the module docstring)."""
        lib, synth = self._lib, self._synth
        self._kill_all()
        for channel in range(self.channels):
            lib.fluid_synth_set_channel_type(synth, channel, _CHANNEL_TYPE_MELODIC)
            lib.fluid_synth_program_select(synth, channel, self._sfont, 0, 0)
        key = 0
        while lib.fluid_synth_get_active_voice_count(synth) < self.polyphony and key < 4 * self.polyphony:
            lib.fluid_synth_noteon(synth, key % self.channels, 24 + (key // self.channels) % 72, 100)
            key += 1
        self.process(self._scratch, 0, 2 * BLOCK)
        self._kill_all()  # every voice slot now ends at the same amplitude, whatever came before
        if lib.fluid_synth_get_active_voice_count(synth):
            raise RuntimeError("FluidSynth kept voices alive through a reset; rendering would not be reproducible")

    def _kill_all(self) -> None:
        """Stop every voice at once (releasing ones too), then reset controllers and programs."""
        self._lib.fluid_synth_all_sounds_off(self._synth, -1)
        self.process(self._scratch, 0, 2 * BLOCK)  # the kill takes effect in the next processed block
        self._lib.fluid_synth_system_reset(self._synth)
        self.process(self._scratch, 0, 2 * BLOCK)

"""Synthetic multitracks: note material (procedural or from scores), sung expression, instrument choice, General
MIDI soundfont rendering through FluidSynth, re-sung voice recordings, and the mix; see :mod:`.multitrack`."""

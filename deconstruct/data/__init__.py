"""Training data. The inference path never imports this package.

- :mod:`deconstruct.data.rendering`: synthetic multitracks: composed or score-based note parts, sung expression and
  re-sung voices, rendered through a General MIDI soundfont (FluidSynth) and mixed, one dry stem per class.
- :mod:`deconstruct.data.datasets`: torch datasets and what feeds them: folder-of-stems and MUSDB18 readers,
  effect-augmented items (dry audio through random chains), stem augmentations, the on-disk cache.
- :mod:`deconstruct.data.material`: the real recordings training may use (the ``train`` split of the shared data
  set) and excerpts of them dropped into synthetic mixes.
"""

from deconstruct._module_aliases import alias_modules

_MOVED = {
    "rendering": ("composition", "expression", "fluidsynth_lib", "mixing", "multitrack", "notes", "orchestration",
                  "scores", "soundfont", "taxonomy", "vocals"),
    "datasets": ("augment", "cache", "effected", "stems_dataset"),
    "material": ("clips", "recordings"),
}
# The flat module paths of the previous release (deconstruct.data.effected, ...) import for one more release.
alias_modules({f"{__name__}.{module}": f"{__name__}.{package}.{module}"
               for package, modules in _MOVED.items() for module in modules})

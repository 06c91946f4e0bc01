"""deconstruct: take a finished stereo song apart.

Separation into stems, effect analysis, effect removal, remix and upmix. The entry points are
:func:`deconstruct` (one call) and :class:`Deconstructor` (load once, run many songs).
"""

from __future__ import annotations

from deconstruct._module_aliases import alias_modules

__version__ = "0.1.0"

__all__ = ["Audio", "Deconstruction", "Deconstructor", "deconstruct", "__version__"]

# Module paths of the previous release, importable for one more release (deconstruct.data keeps its own list).
alias_modules({
    "deconstruct.report": "deconstruct.reporting.report_json",
    "deconstruct.reporting.deconstruction": "deconstruct.reporting.report_html",
    "deconstruct.reporting.html": "deconstruct.reporting.html_page",
    "deconstruct.removal.removers": "deconstruct.removal.effect_removers",
    "deconstruct.removal._loops": "deconstruct.effects.sample_loops",
    "deconstruct.effects._loops": "deconstruct.effects.sample_loops",
})


def __getattr__(name: str):  # lazy imports keep `import deconstruct` and the CLI start fast
    if name in ("deconstruct", "Deconstructor", "Deconstruction"):
        from deconstruct import pipeline

        return getattr(pipeline, name)
    if name == "Audio":
        from deconstruct.audio import Audio

        return Audio
    raise AttributeError(f"module 'deconstruct' has no attribute {name!r}")

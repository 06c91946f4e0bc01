"""deconstruct: take a finished stereo song apart.

Separation into stems, effect analysis, effect removal, remix and upmix. The entry points are
:func:`deconstruct` (one call) and :class:`Deconstructor` (load once, run many songs).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Audio", "Deconstruction", "Deconstructor", "deconstruct", "__version__"]


def __getattr__(name: str):  # lazy imports keep `import deconstruct` and the CLI start fast
    if name in ("deconstruct", "Deconstructor", "Deconstruction"):
        from deconstruct import pipeline

        return getattr(pipeline, name)
    if name == "Audio":
        from deconstruct.audio import Audio

        return Audio
    raise AttributeError(f"module 'deconstruct' has no attribute {name!r}")

"""The project's exceptions.

Every error a user can cause is a :class:`DeconstructError` subclass whose message is one line saying what
was wrong and what to do. The CLI prints that line and exits with the class's ``exit_code``; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class DeconstructError(Exception):
    """Base class: a user-facing problem with a one-line message."""

    exit_code = 1


class InputError(DeconstructError):
    """The input audio (or a setting about it) cannot be used: missing, unreadable, empty, non-finite..."""

    exit_code = 2


class OutputError(DeconstructError):
    """The output location cannot be written, or already holds results and overwriting was not asked for."""

    exit_code = 3


class ModelError(DeconstructError):
    """A model name, checkpoint file or its weights are unknown, corrupt or incompatible."""

    exit_code = 4


class DependencyError(DeconstructError):
    """An optional dependency or external resource (ffmpeg, a soundfont, an HRTF file) is missing."""

    exit_code = 5

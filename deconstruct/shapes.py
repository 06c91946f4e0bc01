"""Checks of tensor layouts, with one error message everywhere: ``"<where> expects <layout>, got shape <shape>"``.

The channel axis is never guessed: a function states its layout (``[channels, samples]``,
``[batch, channels, samples]``) and calls :func:`check_rank`, which raises on any other rank.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_rank", "check_same_trailing"]


def _shape(x: Any) -> tuple[int, ...] | str:
    return tuple(x.shape) if hasattr(x, "shape") else type(x).__name__


def check_rank(x: Any, rank: int, where: str, layout: str, at_least: bool = False) -> None:
    """Raise unless ``x`` is an array or tensor with ``rank`` axes (``rank`` or more with ``at_least``).

    Args:
        x: the value to check (anything; a value without ``.shape``/``.ndim`` fails).
        rank: the number of axes.
        where: the function or argument, for the message.
        layout: the expected layout in words, for the message (``"[batch, channels, samples]"``).
        at_least: accept leading batch axes.

    Raises:
        ValueError: ``"<where> expects <layout>, got shape <shape>"``.
    """
    ndim = getattr(x, "ndim", None)
    if not isinstance(ndim, int) or (ndim < rank if at_least else ndim != rank):
        raise ValueError(f"{where} expects {layout}, got shape {_shape(x)}")


def check_same_trailing(a: Any, b: Any, axes: int, where: str, layout: str, names: tuple[str, str]) -> None:
    """Raise unless ``a`` and ``b`` agree on their last ``axes`` axes.

    Raises:
        ValueError: naming both shapes and asking to pad or trim the second.
    """
    if tuple(a.shape[-axes:]) != tuple(b.shape[-axes:]):
        raise ValueError(f"{where}: {names[0]} and {names[1]} differ in {layout}: {tuple(a.shape[-axes:])} vs "
                         f"{tuple(b.shape[-axes:])}; pad or trim the {names[1]}")

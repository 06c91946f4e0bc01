"""Reading user settings (placement and remix JSON) with one-line :class:`InputError` messages.

Every message names where the bad value sits (``placement stems.vocals.azimuth_deg``), what it was and what is
allowed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deconstruct.errors import InputError


def load_json_object(source: str | os.PathLike | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """A JSON object from a mapping, a ``.json`` file path or JSON text.

    Args:
        source: the settings themselves (a mapping), a path to a JSON file, or a string holding a JSON object.
        what: what the settings are, for messages (``"placement"``).

    Raises:
        InputError: unreadable file, invalid JSON, or JSON whose top level is not an object.
    """
    if isinstance(source, Mapping):
        return source
    text, origin = _json_text(source, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{origin}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); fix the {what} file"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{origin}: the {what} must be a JSON object {{...}}, got {type(data).__name__}")
    return data


def _json_text(source: str | os.PathLike, what: str) -> tuple[str, str]:
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return source, f"{what} JSON"
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file; give a path to a JSON file")
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the {what} file ({error})") from None


def check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """Raise :class:`InputError` when ``data`` holds keys outside ``allowed`` (catches typos)."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")


def require_object(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else :class:`InputError`."""
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: expected a JSON object {{...}}, got {_describe(value)}")
    return value


def read_number(
    data: Mapping[str, Any], key: str, where: str, default: float, low: float, high: float
) -> float:
    """A finite number in ``[low, high]`` from ``data[key]`` (``default`` when absent).

    Raises:
        InputError: the value is not a number (booleans and strings are refused), not finite, or out of range.
    """
    if key not in data:
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}.{key}: expected a number, got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{where}.{key}: must be a finite number, got {value}")
    if not low <= value <= high:
        raise InputError(f"{where}.{key}: {value:g} is outside the allowed range [{low:g}, {high:g}]")
    return value


def read_bool(data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    """A JSON boolean from ``data[key]`` (``default`` when absent)."""
    if key not in data:
        return default
    value = data[key]
    if not isinstance(value, bool):
        raise InputError(f"{where}.{key}: expected true or false, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."

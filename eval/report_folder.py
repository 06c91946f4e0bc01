"""Writing a report folder: the folder itself, JSON with non-finite numbers as null, CSV tables."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deconstruct.errors import OutputError

__all__ = ["json_safe", "prepare_output_dir", "safe_name", "write_csv", "write_json"]


def prepare_output_dir(path: Path, overwrite: bool = False) -> Path:
    """Create the report folder; an existing non-empty folder is used only when ``overwrite`` is set.

    Raises:
        OutputError: the path is a file, holds files and ``overwrite`` is not set, or cannot be created.
    """
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is a file; give a folder for the report")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputError(f"{path}: already holds files; choose a new folder or pass --overwrite")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot create the report folder ({error.strerror})") from None
    return path


def safe_name(name: str) -> str:
    """A file-name-safe version of ``name`` (letters, digits, space, ``.``, ``_``, ``-``; others become ``_``)."""
    cleaned = re.sub(r"[^\w .-]", "_", name).strip(" .")
    return cleaned or "item"


def json_safe(value: Any) -> Any:
    """``value`` with tensors/arrays as lists, numpy scalars as Python numbers and NaN/±inf as ``None``."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, torch.Tensor):
        return json_safe(value.detach().cpu().tolist())
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(value: Any, path: Path) -> Path:
    """Write ``value`` as indented, strictly valid JSON (see :func:`json_safe`)."""
    path.write_text(json.dumps(json_safe(value), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """Write ``table`` as CSV without the index."""
    table.to_csv(path, index=False)
    return path

"""``--store``: an evaluation suite's measurements become a model's published numbers.

Every number that ``deconstruct --list-models`` and the README show comes from a model's metrics file
(``deconstruct/models/weights/<name>.metrics.json`` for a shipped model), and every section of that file is
written by code in this repository: the training recipe's record (carried over by ``recipes/ship.py``) and one
section per evaluation suite, written here from the suite's own results, with the command and commit that
produced them. A shipped model's checkpoint file is never touched (its sha256 in ``index.json`` stays valid).
"""

from __future__ import annotations

import datetime
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from deconstruct.errors import InputError
from deconstruct.files import write_json_atomic

__all__ = ["metrics_file_for", "source_commit", "store_suite_results"]

REPO = Path(__file__).resolve().parents[1]


def source_commit() -> str:
    """The repository's commit (``<hash>`` or ``<hash>+changes`` when files differ from it); ``unknown`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+changes" if dirty else commit


def metrics_file_for(model: str) -> Path:
    """The metrics file of a shipped model name, or ``<stem>.metrics.json`` beside a checkpoint path.

    Raises:
        InputError: neither a shipped name nor an existing checkpoint file.
    """
    from deconstruct.models.registry import WEIGHTS_DIR, shipped_index

    entry = shipped_index().get(str(model))
    if entry is not None:
        return WEIGHTS_DIR / entry.get("metrics", f"{model}.metrics.json")
    path = Path(model)
    if path.is_file():
        return path.with_name(f"{path.name.split('.')[0]}.metrics.json")
    raise InputError(f"--store needs a shipped model name or a checkpoint file, got {model!r}")


def _this_command() -> list[str]:
    script = Path(sys.argv[0]).resolve()
    if script.name == "__main__.py":
        script = script.parent
    shown = script.relative_to(REPO).as_posix() if script.is_relative_to(REPO) else str(script)
    return ["python", "-m", shown.replace("/", ".").removesuffix(".py"), *sys.argv[1:]]


def store_suite_results(model: str, suite: str, results: dict[str, Any], argv: list[str] | None = None) -> Path:
    """Replace the ``suite`` section of ``model``'s metrics file with ``results`` and how they were produced.

    Args:
        model: a shipped model name or a checkpoint path (see :func:`metrics_file_for`).
        suite: the section name (``separation_suite``, ``analysis_suite``, ``removal_suite``).
        results: the suite's JSON-ready results.
        argv: the suite's command line (default: this process's, its script relative to the repository).

    Returns:
        The metrics file written.
    """
    from eval.report_folder import json_safe

    path = metrics_file_for(model)
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    command = " ".join(shlex.quote(part) for part in (argv if argv is not None else _this_command()))
    metrics[suite] = {"measured_by": {"command": command, "commit": source_commit(),
                                      "date": datetime.date.today().isoformat()},
                      **json_safe(results)}
    return write_json_atomic(path, metrics)

"""Writing files atomically: a temporary name in the destination's folder, renamed over the destination when
complete, removed when anything fails. A reader never sees a half-written file, and an interrupted write leaves
the previous file as it was.

    with atomic_path("out/model.pt") as tmp:
        torch.save(payload, tmp)

Imports nothing of this project but its exceptions.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deconstruct.errors import OutputError

__all__ = ["atomic_path", "temporary_beside", "write_json_atomic", "write_text_atomic"]

PARTIAL_SUFFIX = ".partial"


def temporary_beside(path: str | os.PathLike, suffix: str = PARTIAL_SUFFIX) -> tuple[int, Path]:
    """Create an empty hidden temporary file in ``path``'s folder (``.<name>.<random><suffix>``).

    Returns:
        The open file descriptor and the temporary's path; the caller closes the one and renames or removes the
        other.

    Raises:
        OutputError: the folder does not exist or cannot be written.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as error:
        raise OutputError(f"{path.parent}: cannot write there ({error.strerror}); choose a writable folder") from None
    return fd, Path(tmp)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = PARTIAL_SUFFIX, mode: int | None = 0o644) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on any exception it is removed.

    Args:
        path: the destination; its folder must exist.
        suffix: the temporary's suffix (a writer that picks the format from the name wants ``".partial.wav"``).
        mode: permission bits of the finished file (``mkstemp`` would leave ``0o600``); ``None`` keeps them.
    """
    path = Path(path)
    fd, tmp = temporary_beside(path, suffix)
    os.close(fd)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically. Returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, payload: Any, **dumps_kwargs: Any) -> Path:
    """Write ``payload`` as pretty-printed JSON (with a final newline) to ``path`` atomically. Returns the path."""
    return write_text_atomic(path, json.dumps(payload, indent=2, **dumps_kwargs) + "\n")

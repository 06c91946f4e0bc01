"""Result folders written as a transaction: nothing looks complete until everything is.

Every file goes to a hidden temporary name in its final folder; :meth:`OutputFolder.commit` renames them into
place with ``report.json`` last, and a failure removes the temporaries. A folder that already holds results
(``report.json`` or ``stems/``) is refused unless ``overwrite`` is set; other files in it are never touched.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from deconstruct.errors import OutputError

RESULT_MARKERS = ("report.json", "stems")


class OutputFolder:
    """A result folder being written.

    Args:
        root: the folder (created if missing).
        overwrite: replace earlier results in it.

    Raises:
        OutputError: the folder holds results and ``overwrite`` is off, or it cannot be created or written.
    """

    def __init__(self, root: str | os.PathLike, overwrite: bool = False) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"{self.root}: exists and is not a folder; choose another output path")
        if not overwrite and any((self.root / marker).exists() for marker in RESULT_MARKERS):
            raise OutputError(f"{self.root}: already holds results (report.json or stems/); "
                              "choose another folder or pass --overwrite")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test.", delete=True)
            probe.close()
        except OSError as error:
            raise OutputError(f"{self.root}: cannot write there ({error.strerror}); choose a writable folder") from None
        self._pending: list[tuple[Path, Path]] = []

    def temp_path(self, relative: str) -> Path:
        """A temporary file path that :meth:`commit` will rename to ``root / relative``."""
        final = self.root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".partial{final.suffix}", dir=final.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
        self._pending.append((Path(tmp), final))
        return Path(tmp)

    def write_json(self, relative: str, payload: dict[str, Any]) -> None:
        """Stage a JSON file (pretty-printed, non-finite numbers as null)."""
        path = self.temp_path(relative)
        path.write_text(json.dumps(_finite(payload), indent=2) + "\n")

    def commit(self) -> list[Path]:
        """Rename every staged file into place, ``report.json`` last. Returns the final paths."""
        ordered = sorted(self._pending, key=lambda pair: pair[1].name == "report.json")
        for tmp, final in ordered:
            os.replace(tmp, final)
        self._pending = []
        return [final for _, final in ordered]

    def abort(self) -> None:
        """Remove every staged temporary file."""
        for tmp, _ in self._pending:
            tmp.unlink(missing_ok=True)
        self._pending = []

    def __enter__(self) -> "OutputFolder":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _finite(value: Any) -> Any:
    """JSON has no inf/nan: map them to None recursively."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value

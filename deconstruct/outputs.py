"""Result folders written as a transaction: nothing looks complete until everything is, and a failure leaves none.

Every file goes to a hidden temporary name (``.deconstruct-partial.<pid>.<random>.<name>``) in its final folder;
:meth:`OutputFolder.commit` renames them into place with ``report.json`` last. A failure (any exception,
Ctrl-C, SIGTERM turned into an exception by the CLI) calls :meth:`OutputFolder.abort`, which removes the
temporaries and every folder the run created, so the folder is left as it was found and the next run needs no
``--overwrite``. Temporaries of an earlier run that was killed outright (SIGKILL, power loss) are recognised by
their prefix and removed when the next run opens the folder (unless their process is still alive).

A folder that already holds results (``report.json``, or result WAVs in ``stems/``) is refused unless
``overwrite`` is set. With ``overwrite`` the previous run's outputs (the ``outputs`` list of its report.json, or the
files its report names when it has no list) are removed at commit, just before the new files are renamed into
place, so a failed run leaves the previous results as they were; other files are never touched. Every committed
file gets the same permissions (``0o666`` less the umask).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Iterable

from deconstruct.errors import OutputError

TEMP_PREFIX = ".deconstruct-partial."
"""Every temporary file a run writes starts with this prefix."""
REPORT = "report.json"
RESULT_FOLDERS = ("stems", "dry", "render")
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_LEGACY_SUFFIX = ".partial.wav"  # temporaries of earlier versions: ".<stem>.<random>.partial.wav"
_SCRATCH = Path(os.devnull)  # the "final" path of a temporary that is never committed


class OutputFolder:
    """A result folder being written.

    Args:
        root: the folder (created if missing; removed again on abort when the run created it).
        overwrite: replace the earlier results in it (exactly the files the earlier run wrote).

    Raises:
        OutputError: the folder holds results and ``overwrite`` is off, or it cannot be created or written.
    """

    def __init__(self, root: str | os.PathLike, overwrite: bool = False) -> None:
        self.root = Path(root)
        self.overwrite = bool(overwrite)
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"{self.root}: exists and is not a folder; choose another output path")
        self._created: list[Path] = []
        self._pending: list[tuple[Path, Path]] = []
        self.mode = 0o666 & ~_umask()
        if self.root.is_dir():
            remove_stale_temporaries(self.root)
        if not overwrite and holds_results(self.root):
            raise OutputError(f"{self.root}: already holds results (report.json or stems/); "
                              "choose another folder or pass --overwrite")
        try:
            self._make_dirs(self.root)
            probe = self.root / f"{TEMP_PREFIX}{os.getpid()}.{secrets.token_hex(4)}.write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            self._remove_created_dirs()
            raise OutputError(f"{self.root}: cannot write there ({error.strerror}); choose a writable folder") from None

    def _make_dirs(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
            self._created.append(path)

    def temp_path(self, relative: str) -> Path:
        """A new, empty temporary file that :meth:`commit` will rename to ``root / relative``.

        Asking twice for the same ``relative`` replaces the earlier temporary (it is removed).
        """
        final = self.root / relative
        if any(existing == final for _, existing in self._pending):
            self.discard(relative)
        try:
            self._make_dirs(final.parent)
            tmp = final.parent / f"{TEMP_PREFIX}{os.getpid()}.{secrets.token_hex(4)}.{final.name}"
            tmp.write_bytes(b"")
        except OSError as error:
            raise disk_error(error, self.root) or OutputError(
                f"{final.parent}: cannot write there ({error.strerror}); choose a writable folder") from None
        self._pending.append((tmp, final))
        return tmp

    def restage(self, relative: str) -> tuple[Path, Path]:
        """Stage a fresh temporary for ``relative``; the earlier one becomes scratch (removed at commit or abort).

        Returns:
            ``(earlier temporary, new temporary)``: read the first while writing the second (format conversion).
        """
        final = self.root / relative
        earlier = [tmp for tmp, existing in self._pending if existing == final]
        if not earlier:
            raise ValueError(f"{relative} was not staged")
        self._pending = [(tmp, _SCRATCH if existing == final else existing) for tmp, existing in self._pending]
        return earlier[-1], self.temp_path(relative)

    def discard(self, relative: str) -> None:
        """Forget (and remove) the temporary staged for ``relative``."""
        final = self.root / relative
        for tmp, existing in list(self._pending):
            if existing == final:
                tmp.unlink(missing_ok=True)
                self._pending.remove((tmp, existing))

    def pending_path(self, relative: str) -> Path:
        """The temporary currently staged for ``relative``."""
        final = self.root / relative
        for tmp, existing in reversed(self._pending):
            if existing == final:
                return tmp
        raise ValueError(f"{relative} was not staged")

    def staged(self) -> list[str]:
        """Relative paths (POSIX) of every file staged so far, in staging order."""
        return [final.relative_to(self.root).as_posix() for _, final in self._pending if final != _SCRATCH]

    def write_json(self, relative: str, payload: dict[str, Any]) -> None:
        """Stage a JSON file (pretty-printed, non-finite numbers as null)."""
        path = self.temp_path(relative)
        try:
            path.write_text(json.dumps(_finite(payload), indent=2) + "\n")
        except OSError as error:
            raise disk_error(error, self.root) or error

    def commit(self) -> list[Path]:
        """Make the staged files the folder's results. Returns the final paths.

        With ``overwrite``, the previous run's outputs that this run does not write again are removed first
        (``report.json`` before anything else, so the folder never looks complete with mixed results).
        """
        for tmp, final in self._pending:
            if final == _SCRATCH:
                tmp.unlink(missing_ok=True)
        pending = [(tmp, final) for tmp, final in self._pending if final != _SCRATCH]
        try:
            for tmp, _ in pending:
                os.chmod(tmp, self.mode)
            if self.overwrite:
                self._remove_previous({final for _, final in pending})
            ordered = sorted(pending, key=lambda pair: pair[1] == self.root / REPORT)
            for tmp, final in ordered:
                os.replace(tmp, final)
        except OSError as error:
            raise disk_error(error, self.root) or OutputError(
                f"{self.root}: cannot finish writing the results ({error.strerror})") from None
        self._pending = []
        self._created = []
        return [final for _, final in ordered]

    def _remove_previous(self, keep: set[Path]) -> None:
        previous = previous_outputs(self.root)
        report = self.root / REPORT
        if report in previous:
            report.unlink(missing_ok=True)
        folders = set()
        for path in previous:
            if path not in keep and path.is_file() and not path.is_symlink():
                path.unlink()
                folders.add(path.parent)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            if folder != self.root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def abort(self) -> None:
        """Remove every staged temporary file and every folder this run created (the folder as found)."""
        for tmp, _ in self._pending:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                continue
        self._pending = []
        self._remove_created_dirs()

    def _remove_created_dirs(self) -> None:
        for folder in sorted(self._created, key=lambda p: len(p.parts), reverse=True):
            try:
                folder.rmdir()
            except OSError:
                continue  # not empty (someone else put a file there) or already gone
        self._created = []

    def __enter__(self) -> "OutputFolder":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def check_output_folder(root: str | os.PathLike, overwrite: bool = False) -> None:
    """Check, without creating or changing anything, that a run could write into ``root``.

    Raises:
        OutputError: as :class:`OutputFolder` would.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise OutputError(f"{root}: exists and is not a folder; choose another output path")
    if root.is_dir() and not overwrite and holds_results(root):
        raise OutputError(f"{root}: already holds results (report.json or stems/); "
                          "choose another folder or pass --overwrite")
    existing = root
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        reason = "not a folder" if not existing.is_dir() else "Permission denied"
        raise OutputError(f"{root}: cannot write there ({reason}); choose a writable folder")


def holds_results(root: Path) -> bool:
    """Whether ``root`` holds a previous run's results: ``report.json``, or WAV files in ``stems/``."""
    if (root / REPORT).exists():
        return True
    stems = root / "stems"
    return stems.is_dir() and any(p.suffix == ".wav" and not p.name.startswith(".") for p in stems.iterdir())


def previous_outputs(root: Path) -> list[Path]:
    """The files the previous run wrote into ``root`` (its ``report.json`` ``outputs``, else the files it names).

    Only paths inside ``root`` count; an unreadable report gives just ``report.json`` and ``report.html``.
    """
    names: list[str] = [REPORT, "report.html"]
    try:
        report = json.loads((root / REPORT).read_text())
    except (OSError, ValueError):
        report = None
    if isinstance(report, dict):
        if isinstance(report.get("outputs"), list):
            names += [name for name in report["outputs"] if isinstance(name, str)]
        else:
            names += list(_named_files(report))
    inside = []
    resolved_root = root.resolve()
    for name in dict.fromkeys(names):
        path = (root / name)
        try:
            if path.resolve().is_relative_to(resolved_root) and ".." not in Path(name).parts:
                inside.append(path)
        except (OSError, ValueError):
            continue
    return inside


def _named_files(report: dict[str, Any]) -> Iterable[str]:
    """The stem, dry and render files a report without an ``outputs`` list names."""
    for entry in (report.get("stems") or {}).values():
        if isinstance(entry, dict):
            if isinstance(entry.get("file"), str):
                yield entry["file"]
            if isinstance(entry.get("dry"), dict) and isinstance(entry["dry"].get("file"), str):
                yield entry["dry"]["file"]
    for entry in (report.get("renders") or {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            yield entry["file"]


def remove_stale_temporaries(root: Path) -> list[Path]:
    """Remove temporaries left in ``root`` and its result folders by runs that are no longer alive.

    Returns the removed paths. Result folders left empty by the removal are removed too.
    """
    removed = []
    for folder in (root, *(root / name for name in RESULT_FOLDERS)):
        if not folder.is_dir():
            continue
        found = False
        for path in folder.iterdir():
            if _is_stale_temporary(path):
                found = True
                try:
                    path.unlink()
                    removed.append(path)
                except OSError:
                    continue
        if found and folder != root and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def _is_stale_temporary(path: Path) -> bool:
    name = "." + path.name.lstrip(".")  # scratch files named after a temporary (".<temporary>.<random>") too
    if name.startswith(TEMP_PREFIX):
        pid = name[len(TEMP_PREFIX):].split(".", 1)[0]
        return path.is_file() and not (pid.isdigit() and _alive(int(pid)))
    return path.name.startswith(".") and path.name.endswith(_LEGACY_SUFFIX) and path.is_file()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def disk_error(error: BaseException, root: str | os.PathLike) -> OutputError | None:
    """An :class:`OutputError` (one line) when ``error`` means the disk is full, else ``None``.

    Recognises ``ENOSPC``/``EDQUOT``/``EFBIG`` and libsndfile's write errors on a disk with no space left.
    """
    code = getattr(error, "errno", None)
    text = str(error)
    full = code in DISK_FULL_ERRNOS or "No space left" in text or "Disk quota" in text
    if not full and type(error).__name__ in ("LibsndfileError", "AssertionError", "RuntimeError"):
        try:
            full = shutil.disk_usage(root).free < 1 << 20
        except OSError:
            full = False
    if not full:
        return None
    return OutputError(f"{root}: the disk is full (no space left to write the results); free some space or "
                       "choose a folder on another disk")


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

"""The versions of the packages that shape a result, recorded in checkpoints and in ``report.json``.

Imports nothing of this project, so any module may use it without an import cycle.
"""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["REPORTED_PACKAGES", "package_versions"]

REPORTED_PACKAGES = ("deconstruct", "torch", "torchaudio", "numpy", "soundfile", "pedalboard")


def package_versions(packages: tuple[str, ...] = REPORTED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (those not installed are left out) and of Python.

    Returns:
        ``{package: version}``, plus ``"python"``.
    """
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    versions["python"] = platform.python_version()
    return versions

"""Old import paths of moved modules, kept working for one release.

``alias_modules({"pkg.old": "pkg.new"})`` makes ``import pkg.old`` (and ``from pkg.old import x``) return the module
``pkg.new`` itself: the same object, so attributes set on one are seen through the other. The new module is
imported only when an old name is first imported, and a :class:`DeprecationWarning` names the new path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

__all__ = ["alias_modules"]


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds old module names and loads them as the module now living under the new name."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None):  # noqa: D102
        if fullname not in self.aliases:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:  # noqa: D102
        new = self.aliases[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:  # noqa: D102 - the module ran under its new name
        pass


_FINDER = _AliasFinder()


def alias_modules(aliases: dict[str, str]) -> None:
    """Let each old dotted module name (key) import as the module under its new name (value)."""
    _FINDER.aliases.update(aliases)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)

"""Config helpers shared by every recipe."""

from __future__ import annotations

from typing import Any

import yaml


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML) to a nested config, in place.

    Raises:
        ValueError: an override without ``=``.
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key.sub=value")
        dotted, raw = item.split("=", 1)
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = yaml.safe_load(raw)
    return config

"""Module paths of the previous release still import, as the moved module itself, with a deprecation warning."""

from __future__ import annotations

import importlib
import sys

import pytest

MOVED = {
    "deconstruct.data.effected": "deconstruct.data.datasets.effected",
    "deconstruct.data.taxonomy": "deconstruct.data.rendering.taxonomy",
    "deconstruct.data.recordings": "deconstruct.data.material.recordings",
    "deconstruct.report": "deconstruct.reporting.report_json",
    "deconstruct.reporting.deconstruction": "deconstruct.reporting.report_html",
    "deconstruct.removal.removers": "deconstruct.removal.effect_removers",
    "deconstruct.removal._loops": "deconstruct.effects.sample_loops",
    "eval.report": "eval.report_folder",
}


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_old_path_is_the_new_module_and_says_where_it_went(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    sys.modules.pop(old, None)  # leave no alias behind for other tests


def test_from_package_import_of_a_moved_module():
    sys.modules.pop("deconstruct.data.augment", None)
    with pytest.warns(DeprecationWarning):
        from deconstruct.data import augment
    assert augment.__name__ == "deconstruct.data.datasets.augment"
    sys.modules.pop("deconstruct.data.augment", None)

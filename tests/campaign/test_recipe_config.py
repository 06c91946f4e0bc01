"""Recipe configs: a schema that rejects unknown keys, a time cap in every config, data folders from a data root,
and sources that compile on Python 3.12 (the accelerator machines' Python)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deconstruct.train.config import SCHEMAS, check_config, recipe_run, resolve_data_paths

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (REPO / "recipes").glob("*/*.yaml") if p.parent.name in SCHEMAS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recipe_config_fits_its_schema_and_is_capped_in_time(path):
    config = yaml.safe_load(path.read_text())
    check_config(config, SCHEMAS[path.parent.name])
    assert float(config["train"]["max_minutes"]) > 0


def test_unknown_override_is_a_one_line_error(capsys):
    config = REPO / "recipes" / "effect_removal" / "smoke.yaml"
    with pytest.raises(SystemExit) as raised:
        recipe_run("doc", argv=[str(config), "--out", "x", "train.max_stepz=3"])
    assert raised.value.code == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "unknown config key 'train.max_stepz'" in message and "max_steps" in message


def test_missing_time_cap_is_refused():
    config = yaml.safe_load((REPO / "recipes" / "effect_removal" / "smoke.yaml").read_text())
    del config["train"]["max_minutes"]
    with pytest.raises(ValueError, match="max_minutes"):
        check_config(config, SCHEMAS["effect_removal"])


def test_data_folders_resolve_against_the_data_root(tmp_path):
    (tmp_path / "musdbhq" / "train").mkdir(parents=True)
    config = {"data_root": str(tmp_path), "data": {"train": [{"kind": "folder", "root": "musdbhq/train"}]}}
    assert resolve_data_paths(config)["data"]["train"][0]["root"] == str(tmp_path / "musdbhq" / "train")
    from deconstruct.errors import InputError

    with pytest.raises(InputError, match="DECONSTRUCT_DATA_ROOT"):
        resolve_data_paths({"data_root": str(tmp_path), "data": {"train": [{"kind": "folder", "root": "nowhere"}]}})


@pytest.mark.skipif(shutil.which("python3.12") is None, reason="no Python 3.12 here")
def test_recipes_and_training_code_compile_on_python_3_12(tmp_path):
    folders = ["recipes", "deconstruct/train", "deconstruct/models", "deconstruct/removal"]
    code = ("import pathlib, py_compile, sys\n"
            "for folder in sys.argv[1:]:\n"
            "    for path in pathlib.Path(folder).rglob('*.py'):\n"
            "        py_compile.compile(str(path), doraise=True, cfile=sys.argv[1])\n")
    result = subprocess.run(["python3.12", "-c", code.replace("sys.argv[1:]", "sys.argv[2:]"),
                             str(tmp_path / "x.pyc"), *folders], cwd=REPO, capture_output=True, text=True,
                            env={"PYENV_VERSION": "3.12.1", "PATH": "/root/.pyenv/shims:/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-1500:]

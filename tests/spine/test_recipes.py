"""Recipe plumbing: config overrides and the shared recipe command line."""

from __future__ import annotations

import pytest
import yaml

from deconstruct.train.config import apply_overrides, recipe_run


def test_overrides_reach_nested_dicts_and_list_items():
    config = {"data": {"train": [{"kind": "folder", "root": "/a"}]}, "train": {"max_steps": 3}}
    apply_overrides(config, ["data.train.0.root=/data/musdb/train", "train.max_steps=100", "train.lr=0.001"])
    assert config["data"]["train"][0]["root"] == "/data/musdb/train"
    assert config["train"] == {"max_steps": 100, "lr": 0.001}
    with pytest.raises(ValueError, match="key.sub=value"):
        apply_overrides(config, ["train.max_steps"])


def test_recipe_run_reads_config_out_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"train": {"max_steps": 1}}))
    run = recipe_run("doc", argv=[str(path), "--out", str(tmp_path / "run"), "train.max_steps=7"])
    assert run.config == {"train": {"max_steps": 7}} and run.out == tmp_path / "run" and run.commit

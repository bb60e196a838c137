"""Config validation: schema errors name the key; semantic errors name the bad value."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from modedrop.config import ConfigError, check_schema, check_semantics, metric_params

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_default_config_is_valid(config):
    check_schema(config, SCHEMA)
    check_semantics(config)


def test_unknown_key_is_reported_with_its_path(config):
    config["metrics"]["rankme"]["centre"] = True
    with pytest.raises(ConfigError, match=r"metrics\.rankme: .*'centre' was unexpected"):
        check_schema(config, SCHEMA)


def test_bad_values_are_all_reported(config):
    config["seeds"] = [1, 1]
    config["features"]["batch_size"] = 0
    with pytest.raises(ConfigError) as error:
        check_schema(config, SCHEMA)
    assert "seeds" in str(error.value) and "features.batch_size" in str(error.value)
    assert "config/README.md" in str(error.value)


def test_unknown_attribute_and_encoder_are_named(config):
    bad = copy.deepcopy(config)
    bad["experiments"]["drop_male"]["attributes"] = ["Moustache"]
    with pytest.raises(ConfigError, match="Moustache"):
        check_semantics(bad)
    bad = copy.deepcopy(config)
    bad["metrics"]["rankme"]["encoders"] = ["resnet9000"]
    with pytest.raises(ConfigError, match="resnet9000"):
        check_semantics(bad)


def test_metric_params_leave_out_the_encoder_list(config):
    params = metric_params(config, "rankme")
    assert "encoders" not in params and params["batch_size"] == 1024


def test_paper_config_is_valid():
    paper = yaml.safe_load((REPO / "config" / "celeba.yaml").read_text())
    check_schema(paper, SCHEMA)
    check_semantics(paper)
    assert paper["metrics"]["rankme"]["encoders"] == ["vicreg_resnet50", "dino_resnet50"]
    assert paper["metrics"]["inception_score"]["encoders"] == ["inception_v3"]


def test_missing_weights_file_and_unknown_encoder_block_are_named(config, tmp_path):
    config["encoders"] = {"efficientnet_lite0": {"weights": str(tmp_path / "nope.pth")}}
    with pytest.raises(
        ConfigError, match=r"encoders\.efficientnet_lite0\.weights: .*nope.pth does not exist"
    ):
        check_semantics(config)
    config["encoders"] = {"resnet9000": {"weights": None}}
    with pytest.raises(ConfigError, match=r"encoders\.resnet9000: unknown encoder"):
        check_semantics(config)


def test_balance_and_dataset_values_are_checked(config):
    config["experiments"]["drop_three"]["balance"] = "natural"
    config["dataset"] = "imagenet"
    with pytest.raises(ConfigError) as error:
        check_schema(config, SCHEMA)
    assert "experiments.drop_three.balance" in str(error.value)
    assert "'imagenet' is not one of" in str(error.value)


def test_canonicalise_sorts_every_mapping_and_keeps_lists():
    from modedrop.config import canonicalise

    config = {"b": {"z": 1, "a": [3, 1, {"y": 0, "x": 1}]}, "a": None}
    canonicalise(config)
    assert list(config) == ["a", "b"] and list(config["b"]) == ["a", "z"]
    assert config["b"]["a"][:2] == [3, 1] and list(config["b"]["a"][2]) == ["x", "y"]
    assert repr(canonicalise({"b": 1, "a": 2})) == repr(canonicalise({"a": 2, "b": 1}))


def test_typed_overrides_type_strings_as_yaml_would():
    from modedrop.config import typed_overrides

    given = {"seeds": ["1", "2"], "reference": {"size": "1024"}, "x": ["null", "true", "0.5"]}
    assert typed_overrides(given) == {
        "seeds": [1, 2],
        "reference": {"size": 1024},
        "x": [None, True, 0.5],
    }
    assert typed_overrides({"name": "drop_male", "n": 3}) == {"name": "drop_male", "n": 3}
    assert typed_overrides({"weird": "[unclosed"}) == {"weird": "[unclosed"}

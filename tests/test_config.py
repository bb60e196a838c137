"""Config validation: schema errors name the key; semantic errors name the bad value."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from modedrop.config import ConfigError, check_schema, check_semantics, metric_params

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


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
    assert "encoders" not in params and params["batch_size"] == 4096

"""Config validation with messages that say what is wrong and where to look.

The JSON schema (``workflow/schemas/config.schema.yaml``) checks types, ranges and unknown keys;
:func:`check_semantics` checks what a schema cannot: attribute and encoder names, and that a
metric's encoder provides what the metric needs.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import jsonschema
import yaml

HELP = "Every key is described in config/README.md."


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found."""


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    return path or "(top level)"


def _suggest(names: Sequence[str], known: Sequence[str]) -> str:
    """' Did you mean ...?' for the names that look like a misspelt known one (else '')."""
    guesses = {
        name: close[0]
        for name in names
        if (close := difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6))
    }
    if not guesses:
        return ""
    pairs = ", ".join(f"{right!r} for {wrong!r}" for wrong, right in guesses.items())
    return f" Did you mean {pairs}?"


def _unknown_key_hint(error: jsonschema.ValidationError) -> str:
    known = sorted(error.schema.get("properties", {}))
    unexpected = [key for key in error.instance if key not in known]
    return f" Keys allowed here: {', '.join(known)}." + _suggest(unexpected, known)


def _valid_unquoted(error: jsonschema.ValidationError) -> bool:
    """Whether a string value would be valid without its quotes ('16' for 16)."""
    try:
        value = yaml.safe_load(error.instance)
    except yaml.YAMLError:
        return False
    if value == error.instance:
        return False
    return jsonschema.Draft202012Validator(error.schema).is_valid(value)


def _hint(error: jsonschema.ValidationError) -> str:
    """How to fix one schema violation, where the schema says more than jsonschema's message."""
    if (
        error.validator == "additionalProperties"
        and error.validator_value is False
        and isinstance(error.instance, Mapping)
    ):
        return _unknown_key_hint(error)
    if isinstance(error.instance, str) and _valid_unquoted(error):
        return " Remove the quotes: YAML reads a quoted value as a string."
    hint = ""
    if error.validator == "oneOf":
        hint = f" ({'; '.join(sorted({e.message for e in error.context}))})"
    if error.validator in ("type", "oneOf") and "default" in error.schema:
        hint += f" The default is {json.dumps(error.schema['default'])}."
    return hint


def check_schema(config: Mapping, schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every schema violation, each with its key path.

    Each line gives the key path, jsonschema's message and, where it helps, how to fix it: the
    keys allowed next to an unknown one (and the likely intended one), "remove the quotes"
    when a quoted value would be valid unquoted, the default of a value of the wrong type.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  - {_where(e)}: {e.message}.{_hint(e)}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines) + f"\n{HELP}")


def check_semantics(config: Mapping) -> None:
    """Names that must exist: attributes, encoders; and metric/encoder compatibility."""
    from modedrop.data.celeba_format import ATTRIBUTE_NAMES
    from modedrop.design import RANDOM_ATTRIBUTE
    from modedrop.encoders import ENCODERS
    from modedrop.encoders.weights import check_configured_weights
    from modedrop.metrics import METRICS

    problems = []
    for name, block in config["experiments"].items():
        known = (*ATTRIBUTE_NAMES, RANDOM_ATTRIBUTE)
        unknown = [a for a in block["attributes"] if a not in known]
        if unknown:
            problems.append(
                f"experiments.{name}.attributes: unknown attribute(s) {unknown}."
                f"{_suggest(unknown, known)} "
                f"CelebA's 40 attributes (names are case-sensitive) are {list(ATTRIBUTE_NAMES)}, "
                f"and {RANDOM_ATTRIBUTE!r} is a random half of the images (a negative control)"
            )
    for metric, block in config["metrics"].items():
        for encoder in block.get("encoders") or []:  # null: resolved to RankMe's
            if encoder not in ENCODERS:
                problems.append(
                    f"metrics.{metric}.encoders: unknown encoder {encoder!r}."
                    f"{_suggest([encoder], sorted(ENCODERS))} Known encoders: {sorted(ENCODERS)}"
                )
            elif METRICS[metric].input == "logits" and not ENCODERS[encoder].has_logits:
                problems.append(
                    f"metrics.{metric}.encoders: {encoder!r} has no classifier head, but "
                    f"{metric} needs class logits; pick an encoder with logits"
                )
    problems += check_configured_weights(config.get("encoders"))
    if problems:
        raise ConfigError(
            "invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems) + f"\n{HELP}"
        )


def resolve_paired_encoders(config: dict) -> dict:
    """Fill in ``metrics.inception_score_features.encoders: null`` and ``attribution.encoders:
    null`` with RankMe's encoders.

    Haratian (2024), "RankMe for Detecting Mode-Drop in Generative AI", pairs RankMe with the
    IS formula on the same encoder's outputs, so by default every RankMe encoder gets both.
    """
    rankme_encoders = list(config.get("metrics", {}).get("rankme", {}).get("encoders", []))
    block = config.get("metrics", {}).get("inception_score_features")
    if block is not None and block.get("encoders") is None:
        block["encoders"] = list(rankme_encoders)
    # The attribute probes read the same data-set caches; by default RankMe's.
    attribution = config.get("attribution")
    if attribution is not None and attribution.get("encoders") is None:
        attribution["encoders"] = list(rankme_encoders)
    return config


def typed_overrides(values):
    """``--config key=value`` values typed as YAML types them (numbers, booleans, null).

    Snakemake reads a value given on the command line with YAML's ``BaseLoader``, so inside a
    list or mapping everything stays a string: ``seeds=[1,2]`` arrives as ``['1', '2']``.
    Each such string is read again with ``yaml.safe_load``; a value that is not a string
    (Snakemake already typed top-level numbers) is kept.
    """
    if isinstance(values, Mapping):
        return {key: typed_overrides(value) for key, value in values.items()}
    if isinstance(values, list):
        return [typed_overrides(value) for value in values]
    if isinstance(values, str):
        try:
            typed = yaml.safe_load(values)
        except yaml.YAMLError:
            return values
        return typed if isinstance(typed, (int, float, bool, type(None), str)) else values
    return values


def canonicalise(config: dict) -> dict:
    """Sort the keys of every mapping in ``config``, in place (lists keep their order).

    Snakemake decides whether a job's params changed by comparing their ``repr``, which for a
    dict follows its key order. With every mapping sorted, the same configuration written in
    any key order gives the same params and the same plan, and tables and figures list
    experiments and generators in one order.
    """
    for value in config.values():
        if isinstance(value, dict):
            canonicalise(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    canonicalise(item)
    items = sorted(config.items(), key=lambda item: str(item[0]))
    config.clear()
    config.update(items)
    return config


def metric_params(config: Mapping, metric: str) -> dict:
    """A metric's own config block without its encoder list.

    The encoder list only decides which jobs exist; leaving it out of the params means that
    adding an encoder to a metric does not re-run that metric's jobs on the other encoders.
    """
    return {k: v for k, v in config["metrics"][metric].items() if k != "encoders"}

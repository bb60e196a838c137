"""Config validation with messages that say what is wrong and where to look.

The JSON schema (``workflow/schemas/config.schema.yaml``) checks types, ranges and unknown keys;
:func:`check_semantics` checks what a schema cannot: attribute and encoder names, and that a
metric's encoder provides what the metric needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

HELP = "Every key is described in config/README.md."


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found."""


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    return path or "(top level)"


def check_schema(config: Mapping, schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every schema violation, each with its key path."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  - {_where(e)}: {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines) + f"\n{HELP}")


def check_semantics(config: Mapping) -> None:
    """Names that must exist: attributes, encoders; and metric/encoder compatibility."""
    from modedrop.data.celeba_format import ATTRIBUTE_NAMES
    from modedrop.encoders import ENCODERS
    from modedrop.encoders.weights import check_configured_weights
    from modedrop.indices import RANDOM_ATTRIBUTE
    from modedrop.metrics import METRICS

    problems = []
    for name, block in config["experiments"].items():
        known = (*ATTRIBUTE_NAMES, RANDOM_ATTRIBUTE)
        unknown = [a for a in block["attributes"] if a not in known]
        if unknown:
            problems.append(
                f"experiments.{name}.attributes: unknown attribute(s) {unknown}; "
                f"CelebA's 40 attributes are {list(ATTRIBUTE_NAMES)}, and "
                f"{RANDOM_ATTRIBUTE!r} is a random half of the images (a negative control)"
            )
    for metric, block in config["metrics"].items():
        for encoder in block.get("encoders", []):
            if encoder not in ENCODERS:
                problems.append(
                    f"metrics.{metric}.encoders: unknown encoder {encoder!r}; "
                    f"known encoders: {sorted(ENCODERS)}"
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


def metric_params(config: Mapping, metric: str) -> dict:
    """A metric's own config block without its encoder list.

    The encoder list only decides which jobs exist; leaving it out of the params means that
    adding an encoder to a metric does not re-run that metric's jobs on the other encoders.
    """
    return {k: v for k, v in config["metrics"][metric].items() if k != "encoders"}

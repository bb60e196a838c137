"""Diversity metrics: one pure function per module (numpy/scipy only, no torch).

``METRICS`` is the registry the workflow iterates over. To add a metric, write
``modedrop/metrics/<name>.py`` exposing ``<name>(array, ...)`` and add one ``MetricSpec`` entry
below. The metric modules are not imported here, so reading the registry stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["METRICS", "MetricSpec"]


@dataclass(frozen=True)
class MetricSpec:
    """What a metric consumes and how to read it.

    ``input`` is ``"features"`` (encoder embeddings, N x D) or ``"logits"`` (classifier logits,
    N x C); ``label`` is the human-readable name used on figure axes.
    """

    name: str
    input: Literal["features", "logits"]
    higher_means_more_diverse: bool
    label: str


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(name="rankme", input="features", higher_means_more_diverse=True, label="RankMe"),
        MetricSpec(
            name="inception_score",
            input="logits",
            higher_means_more_diverse=True,
            label="Inception Score",
        ),
    )
}

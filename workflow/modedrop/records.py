"""Metric results: one JSON file per metric job - (metric family, experiment, encoder, seed).

A job scores every condition of its seed and writes one *record* per (output, condition): the
rows of the study's long table (:data:`LONG_COLUMNS`). Per-condition details that do not fit a
scalar (NDB's bin proportions, the most similar pairs, calibrated thresholds) go under
``details``; the job's parameters under ``params``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

LONG_COLUMNS = ("dataset", "experiment", "encoder", "metric", "condition", "seed", "value")


def job_result(
    *,
    dataset: str,
    experiment: str,
    encoder: str,
    seed: int,
    family: str,
    values: Mapping[str, Mapping[str, float]],
    n_images: Mapping[str, int],
    params: Mapping | None = None,
    details: Mapping | None = None,
) -> dict:
    """A job's result from ``values[condition][output]`` (one record per output and condition)."""
    records = [
        {
            "dataset": dataset,
            "experiment": experiment,
            "encoder": encoder,
            "metric": output,
            "condition": condition,
            "seed": int(seed),
            "value": float(value),
            "n_images": int(n_images[condition]),
        }
        for condition, outputs in values.items()
        for output, value in outputs.items()
    ]
    return {
        "family": family,
        "params": dict(params or {}),
        "records": records,
        "details": dict(details or {}),
    }


def write_result(path: str | Path, result: Mapping) -> None:
    """Write a job result as sorted, indented JSON (stable bytes for identical results).

    Every record must be complete and finite. Written to a temporary name and renamed, so a
    killed job leaves no half-written file.
    """
    for record in result["records"]:
        missing = [c for c in LONG_COLUMNS if c not in record]
        if missing:
            raise ValueError(f"metric record lacks {missing}: {record}")
        if not math.isfinite(record["value"]):
            raise ValueError(
                f"{record['metric']} is {record['value']} for condition {record['condition']} "
                f"in {path}; refusing to write a non-finite value"
            )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n")
    os.replace(partial, path)


def read_result(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def read_records(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The long-form table (``LONG_COLUMNS``) of many job result files."""
    rows = [
        {column: record[column] for column in LONG_COLUMNS}
        for path in paths
        for record in read_result(path)["records"]
    ]
    table = pd.DataFrame(rows, columns=list(LONG_COLUMNS))
    table["seed"] = table["seed"].astype(int)
    return table.sort_values(list(LONG_COLUMNS[:-1]), kind="stable").reset_index(drop=True)

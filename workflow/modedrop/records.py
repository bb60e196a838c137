"""Metric result records: one JSON file per (experiment, encoder, metric, seed, condition)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

LONG_COLUMNS = ("dataset", "experiment", "encoder", "metric", "condition", "seed", "value")


def metric_record(
    *, dataset: str, wildcards, metric: str, value: float, n_images: int, **extra
) -> dict:
    """A record for one metric job, from the job's wildcards (experiment, encoder, seed, condition)."""
    return {
        "dataset": dataset,
        "experiment": wildcards.experiment,
        "encoder": wildcards.encoder,
        "metric": metric,
        "condition": wildcards.condition,
        "seed": int(wildcards.seed),
        "value": float(value),
        "n_images": int(n_images),
        **extra,
    }


def write_record(path: str | Path, record: Mapping) -> None:
    """Write a record as sorted, indented JSON (stable bytes for identical results).

    Written to a temporary name and renamed so that a killed job leaves no half-written file.
    """
    missing = [c for c in LONG_COLUMNS if c not in record]
    if missing:
        raise ValueError(f"metric record lacks {missing}")
    if not math.isfinite(record["value"]):
        raise ValueError(f"metric value is {record['value']} for {path}; refusing to write it")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(partial, path)


def read_records(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The long-form table (``LONG_COLUMNS``) of many record files."""
    rows = []
    for path in paths:
        record = json.loads(Path(path).read_text())
        rows.append({column: record[column] for column in LONG_COLUMNS})
    table = pd.DataFrame(rows, columns=list(LONG_COLUMNS))
    table["seed"] = table["seed"].astype(int)
    return table.sort_values(list(LONG_COLUMNS[:-1]), kind="stable").reset_index(drop=True)

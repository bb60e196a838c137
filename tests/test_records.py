"""Metric records: JSON round trip into the long table; refusing invalid values."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from modedrop.records import LONG_COLUMNS, metric_record, read_records, write_record


def test_record_round_trip_to_long_table(tmp_path):
    wildcards = SimpleNamespace(experiment="e", encoder="enc", condition="target", seed="3")
    paths = []
    for i, value in enumerate([2.0, 1.0]):
        path = tmp_path / f"r{i}.json"
        record = metric_record(
            dataset="d", wildcards=wildcards, metric=f"m{i}", value=value, n_images=10, extra=1
        )
        write_record(path, record)
        paths.append(path)
    table = read_records(paths)
    assert list(table.columns) == list(LONG_COLUMNS)
    assert table["seed"].tolist() == [3, 3] and table["metric"].tolist() == ["m0", "m1"]
    assert not list(tmp_path.glob("*.partial"))


def test_non_finite_value_is_refused(tmp_path):
    wildcards = SimpleNamespace(experiment="e", encoder="enc", condition="target", seed="1")
    record = metric_record(
        dataset="d", wildcards=wildcards, metric="m", value=float("nan"), n_images=1
    )
    with pytest.raises(ValueError, match="refusing"):
        write_record(tmp_path / "x.json", record)
    assert not (tmp_path / "x.json").exists()

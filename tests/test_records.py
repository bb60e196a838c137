"""Metric job results: JSON round trip into the long table; refusing invalid values."""

from __future__ import annotations

import json

import pytest

from modedrop.records import LONG_COLUMNS, job_result, read_records, read_result, write_result


def _result(values, **kw):
    return job_result(
        dataset="d",
        experiment="e",
        encoder="enc",
        seed=3,
        family="fam",
        values=values,
        n_images=dict.fromkeys(values, 10),
        **kw,
    )


def test_result_round_trip_to_long_table(tmp_path):
    path = tmp_path / "r.json"
    values = {"unbiased": {"a": 2.0, "b": 1.0}, "target": {"a": 3.0, "b": 0.5}}
    write_result(path, _result(values, details={"target": {"bins": [1, 2]}}, params={"k": 5}))
    table = read_records([path])
    assert list(table.columns) == list(LONG_COLUMNS)
    assert len(table) == 4 and set(table["metric"]) == {"a", "b"}
    assert table["seed"].tolist() == [3] * 4
    row = table[(table["metric"] == "a") & (table["condition"] == "target")]
    assert row["value"].item() == 3.0
    stored = read_result(path)
    assert stored["details"]["target"]["bins"] == [1, 2] and stored["params"] == {"k": 5}
    assert not list(tmp_path.glob("*.partial"))
    # Stable bytes: the same result gives the same file.
    first = path.read_bytes()
    write_result(path, _result(values, details={"target": {"bins": [1, 2]}}, params={"k": 5}))
    assert path.read_bytes() == first
    assert json.loads(first)["family"] == "fam"


def test_non_finite_value_is_refused(tmp_path):
    with pytest.raises(ValueError, match="refusing"):
        write_result(tmp_path / "x.json", _result({"target": {"m": float("nan")}}))
    assert not (tmp_path / "x.json").exists()

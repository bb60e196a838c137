"""Known-rank study (RankMe paper, Figure S11)."""

from __future__ import annotations

import pandas as pd
import pytest

from modedrop.known_rank import known_rank_study


def test_converges_to_true_rank():
    df = known_rank_study(ranks=[8], dim=64, n_samples=[16, 256, 2048], repeats=3, seed=0)
    assert list(df.columns) == ["true_rank", "n_samples", "repeat", "rankme"]
    assert len(df) == 1 * 3 * 3
    means = df.groupby("n_samples")["rankme"].mean()
    assert means.loc[2048] == pytest.approx(8.0, rel=0.05)
    assert means.loc[16] < means.loc[256] < means.loc[2048]  # underestimates for small n


def test_deterministic_and_order_independent():
    a = known_rank_study(ranks=[4, 8], dim=16, n_samples=[32, 64], repeats=2, seed=7)
    b = known_rank_study(ranks=[8, 4], dim=16, n_samples=[64, 32], repeats=2, seed=7)
    key = ["true_rank", "n_samples", "repeat"]
    pd.testing.assert_frame_equal(
        a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    )
    c = known_rank_study(ranks=[4, 8], dim=16, n_samples=[32, 64], repeats=2, seed=8)
    assert not a["rankme"].equals(c["rankme"])


def test_rank_above_dim_raises():
    with pytest.raises(ValueError, match="<= dim"):
        known_rank_study(ranks=[65], dim=64, n_samples=[10], repeats=1, seed=0)

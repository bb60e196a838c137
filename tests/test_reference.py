"""The held-out reference per (experiment, seed): balanced like unbiased, disjoint, feasible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modedrop.allocation import combination_cells
from modedrop.design import Design, Experiment, InfeasibleExperimentError
from modedrop.reference import (
    REFERENCE,
    check_experiment,
    draw_reference,
    experiment_indices,
    paired_allocation,
)

ATTRIBUTES = ("A", "B", "C")


def skewed_table(n: int = 20000, seed: int = 0) -> pd.DataFrame:
    """Three attributes with natural prevalences far from one half (like CelebA's Young)."""
    rng = np.random.default_rng(seed)
    values = np.where(rng.random((n, 3)) < [0.3, 0.6, 0.8], 1, -1).astype(np.int8)
    return pd.DataFrame(values, index=[f"{i:06d}.jpg" for i in range(n)], columns=ATTRIBUTES)


def identities_of(table: pd.DataFrame) -> pd.Series:
    return pd.Series(np.arange(len(table)) // 20, index=table.index)


DESIGN = Design(reference_size=None, doses=(0.5,), collapse=(0.5,), collapse_identities=2)


def counts(table: pd.DataFrame, names, targets) -> dict[tuple, int]:
    rows = table.loc[list(names), list(targets)]
    return {combo: int(n) for combo, n in rows.value_counts().items()}


@pytest.mark.parametrize(
    ("targets", "balance", "size"),
    [(("A",), "joint", 800), (("A", "B", "C"), "joint", 400), (("A", "B", "C"), "marginal", 600)],
)
def test_reference_is_balanced_like_unbiased_and_disjoint(targets, balance, size):
    table = skewed_table()
    experiment = Experiment(
        "drop", targets, dict.fromkeys(("unbiased", "target", "nontarget"), size), balance
    )
    subsets = experiment_indices(
        table, experiment, 3, design=DESIGN, identities=identities_of(table)
    )
    reference = subsets.pop(REFERENCE)
    assert len(reference) == size == len(set(reference))  # null size: the unbiased size
    for condition, names in subsets.items():
        assert not set(reference) & set(names), condition
    unbiased = subsets["unbiased"]
    for attribute in targets:  # every target attribute at +1 in exactly half of both
        assert (table.loc[reference, attribute] == 1).sum() == size // 2
        assert (table.loc[unbiased, attribute] == 1).sum() == size // 2
    shares_reference = counts(table, reference, targets)
    shares_unbiased = counts(table, unbiased, targets)
    assert shares_reference.keys() == shares_unbiased.keys()
    for combo, n in shares_unbiased.items():  # the same combination shares, up to rounding
        assert abs(shares_reference[combo] - n) <= 2, combo
    # The natural mix would be far from it: A is +1 in ~30 % of the table.
    assert (table["A"] == 1).mean() < 0.35


def test_reference_differs_by_seed_and_experiment_and_is_reproducible():
    table = skewed_table()
    sizes = dict.fromkeys(("unbiased", "target", "nontarget"), 400)
    one, two = Experiment("one", ("A",), sizes), Experiment("two", ("A",), sizes)
    design = Design(reference_size=256)
    first, _ = draw_reference(table, one, 1, design)
    assert first == draw_reference(table, one, 1, design)[0]
    assert first != draw_reference(table, one, 2, design)[0]
    assert first != draw_reference(table, two, 1, design)[0]
    assert len(first) == 256


def test_natural_reference_is_uniform_and_shared_by_experiments():
    table = skewed_table()
    sizes = dict.fromkeys(("unbiased", "target", "nontarget"), 400)
    design = Design(reference_size=1000, reference_distribution="natural")
    one, fixed = draw_reference(table, Experiment("one", ("A",), sizes), 1, design)
    two, _ = draw_reference(table, Experiment("two", ("B",), sizes), 1, design)
    assert one == two and fixed is None
    assert abs((table.loc[one, "A"] == 1).mean() - 0.3) < 0.05  # the natural mix


def test_marginal_pair_splits_one_allocation_in_proportion():
    table = skewed_table()
    experiment = Experiment(
        "drop", ATTRIBUTES, dict.fromkeys(("unbiased", "target", "nontarget"), 900), "marginal"
    )
    cells = combination_cells(table, ATTRIBUTES)
    unbiased, reference = paired_allocation(cells, experiment, 300)
    assert sum(n for _, n in unbiased) == 900 and sum(n for _, n in reference) == 300
    for (combo, u), (_, r) in zip(unbiased, reference, strict=True):
        assert u + r <= len(cells[combo])
        assert abs(r - (u + r) * 300 / 1200) <= 1  # its share of the joint allocation


def test_infeasible_pair_names_the_binding_cell_and_the_fix():
    table = skewed_table(n=2000)
    sizes = dict.fromkeys(("unbiased", "target", "nontarget"), 480)
    experiment = Experiment("drop", ATTRIBUTES, sizes)  # joint: 60 per cell, twice
    cells = combination_cells(table, ATTRIBUTES)
    smallest = min(len(rows) for rows in cells.values())
    assert smallest < 120
    with pytest.raises(InfeasibleExperimentError, match=rf"holds only {smallest}\b") as error:
        check_experiment(table, experiment, Design(reference_size=None), 1)
    assert "reference.size" in str(error.value)
    assert "[A=-1, B=-1, C=+1]" in str(error.value) or "A=" in str(error.value)


def test_joint_reference_size_must_split_evenly():
    table = skewed_table()
    experiment = Experiment(
        "drop", ("A", "B"), dict.fromkeys(("unbiased", "target", "nontarget"), 400)
    )
    with pytest.raises(ValueError, match="reference.size divisible by 2\\^2 = 4.*Use 100 or 104"):
        draw_reference(table, experiment, 1, Design(reference_size=102))


def test_reference_takes_its_share_from_the_nontarget_cell():
    """The CelebA drop_three situation: nontarget needs almost all of its cell, and the
    balanced reference takes the unbiased share of that cell - the check names the cell."""
    table = skewed_table()
    cells = combination_cells(table, ATTRIBUTES)
    nontarget_cell = len(cells[(-1, -1, -1)])
    sizes = dict.fromkeys(("unbiased", "target", "nontarget"), nontarget_cell - 4)
    sizes["unbiased"] = 400
    experiment = Experiment("drop", ATTRIBUTES, sizes, "marginal")
    check_experiment(table, experiment, Design(reference_size=16), 1)
    with pytest.raises(InfeasibleExperimentError, match=r"nontarget.*A=-1, B=-1, C=-1"):
        check_experiment(table, experiment, Design(reference_size=400), 1)


def test_unknown_distribution_is_refused():
    with pytest.raises(ValueError, match="reference.distribution 'uniform' is unknown"):
        Design(reference_distribution="uniform")


def test_a_finished_default_study_has_balanced_held_out_references():
    """Acceptance check of `make study` at the repository root: every experiment and seed's
    reference.txt is disjoint from its conditions and balanced like unbiased.txt."""
    import yaml

    from conftest import REPO
    from workflow_helpers import assert_references_balanced_and_held_out

    results = REPO / "results" / "synthfaces"
    if not (results / "tables" / "metrics.csv").exists():
        pytest.skip("no finished default study at the repository root (run `make study`)")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    checked = assert_references_balanced_and_held_out(results, config)
    assert checked == len(config["experiments"]) * len(config["seeds"])

"""The study design beyond the three conditions of Haratian (2024), *RankMe for Detecting
Mode-Drop in Generative AI*: held-out reference, dose-response, intra-mode collapse and the
Random negative control (modedrop.design, modedrop.allocation, modedrop.indices)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modedrop.allocation import check_feasible
from modedrop.config import ConfigError, check_semantics
from modedrop.design import (
    CONDITIONS,
    Design,
    Experiment,
    InfeasibleExperimentError,
    collapse_condition,
    condition_fraction,
    dose_condition,
    random_attribute,
)
from modedrop.indices import build_indices, describe_subsets, sample_reference


def table_with_identities(n: int = 3000, n_identities: int = 150, seed: int = 0):
    rng = np.random.default_rng(seed)
    identity = rng.integers(1, n_identities + 1, n)
    # A and B are identity traits, as Male is in CelebA; C varies per image.
    trait = np.where(rng.random((n_identities + 1, 2)) < [0.4, 0.5], 1, -1)
    values = np.column_stack(
        [trait[identity, 0], trait[identity, 1], np.where(rng.random(n) < 0.5, 1, -1)]
    )
    names = pd.Index([f"{i + 1:06d}.jpg" for i in range(n)], name="image")
    table = pd.DataFrame(values.astype(np.int8), index=names, columns=["A", "B", "C"])
    return table, pd.Series(identity, index=names, name="identity")


DESIGN = Design(
    reference_size=600, doses=(0.25, 0.5, 0.75), collapse=(0.25, 0.5), collapse_identities=3
)


def test_condition_names_and_axes():
    assert DESIGN.conditions == (
        *CONDITIONS,
        "dose25",
        "dose50",
        "dose75",
        "collapse25",
        "collapse50",
    )
    assert condition_fraction("unbiased") == ("dose", 0.0)
    assert condition_fraction("target") == ("dose", 1.0)
    assert condition_fraction("dose75") == ("dose", 0.75)
    assert condition_fraction("collapse50") == ("collapse", 0.5)
    assert condition_fraction("nontarget")[0] == "none"
    with pytest.raises(ValueError, match="whole percentage"):
        dose_condition(1 / 3)
    with pytest.raises(ValueError, match="target condition"):
        dose_condition(1.0)
    assert collapse_condition(1.0) == "collapse100"


def test_reference_is_uniform_shared_by_experiments_and_never_evaluated():
    table, identities = table_with_identities()
    reference = sample_reference(table.index, 600, seed=1)
    assert len(reference) == 600 == len(set(reference)) and reference == sorted(reference)
    assert reference == sample_reference(table.index, 600, seed=1)
    assert reference != sample_reference(table.index, 600, seed=2)
    # Natural distribution: the reference's share of A=+1 is the data set's (within noise).
    assert abs((table.loc[reference, "A"] == 1).mean() - (table["A"] == 1).mean()) < 0.06
    for name, attributes in (("one", ("A",)), ("two", ("A", "B"))):
        experiment = Experiment(name, attributes, dict.fromkeys(CONDITIONS, 400))
        subsets = build_indices(
            table, experiment, 1, design=DESIGN, exclude=reference, identities=identities
        )
        assert list(subsets) == list(DESIGN.conditions)
        for names in subsets.values():
            assert not set(names) & set(reference)
            assert len(names) == 400 == len(set(names))
    with pytest.raises(ValueError, match="reference.size"):
        sample_reference(table.index, len(table), seed=1)


def test_dose_conditions_interpolate_between_unbiased_and_target():
    table, identities = table_with_identities()
    experiment = Experiment("e", ("A",), dict.fromkeys(CONDITIONS, 400))
    subsets = build_indices(table, experiment, 3, design=DESIGN, identities=identities)
    positive = {c: (table.loc[n, "A"] == 1).mean() for c, n in subsets.items()}
    # The dropped mode (A = -1) keeps (1 - p) of its unbiased share of 1/2.
    for p in (0.25, 0.5, 0.75):
        assert positive[dose_condition(p)] == pytest.approx(1 - (1 - p) / 2, abs=1 / 400)
    assert positive["unbiased"] == 0.5 and positive["target"] == 1.0
    # Two attributes: the three dropped combinations shrink together, sizes stay exact.
    both = Experiment("both", ("A", "B"), dict.fromkeys(CONDITIONS, 400))
    subsets = build_indices(table, both, 3, design=DESIGN, identities=identities)
    kept = (table.loc[subsets["dose50"], ["A", "B"]] == 1).all(axis=1).sum()
    assert kept == 100 + 150 and len(subsets["dose50"]) == 400


def test_collapse_replaces_a_fraction_with_few_identities():
    table, identities = table_with_identities()
    reference = sample_reference(table.index, 600, seed=1)
    experiment = Experiment("e", ("C",), dict.fromkeys(CONDITIONS, 400))
    subsets = build_indices(
        table, experiment, 1, design=DESIGN, exclude=reference, identities=identities
    )
    unbiased = set(subsets["unbiased"])
    for fraction in (0.25, 0.5):
        collapsed = subsets[collapse_condition(fraction)]
        incoming = [n for n in collapsed if n not in unbiased]
        assert len(collapsed) == 400 == len(set(collapsed))
        assert len(incoming) == round(fraction * 400)
        assert not set(incoming) & set(reference)
        few = identities[incoming].nunique()
        # As few identities as can supply the images (at least collapse_identities).
        available = identities.drop(index=list(unbiased) + reference).value_counts()
        needed = int(np.searchsorted(np.cumsum(available.to_numpy()), len(incoming))) + 1
        assert DESIGN.collapse_identities <= few <= max(needed, DESIGN.collapse_identities)
        assert few < identities[subsets["unbiased"]].nunique() / 4
    summary = describe_subsets(subsets, table, ("C",), identities)
    assert (
        summary["collapse50"]["largest_identity_images"]
        > summary["unbiased"]["largest_identity_images"]
    )


def test_collapse_without_enough_images_is_refused():
    table, identities = table_with_identities(n=500)
    experiment = Experiment("e", ("C",), {"unbiased": 300, "target": 100, "nontarget": 100})
    design = Design(collapse=(1.0,))
    with pytest.raises(InfeasibleExperimentError, match="intra_mode_collapse"):
        build_indices(table, experiment, 1, design=design, identities=identities)


def test_infeasible_dose_or_reference_fails_before_work():
    table, _ = table_with_identities()
    experiment = Experiment("e", ("A",), dict.fromkeys(CONDITIONS, 1100))
    check_feasible(table, experiment, DESIGN)
    reference = sample_reference(table.index, 1500, seed=1)
    with pytest.raises(InfeasibleExperimentError, match="Lower experiments.e.size"):
        check_feasible(table, experiment, DESIGN, exclude=reference)


def test_random_attribute_is_a_fixed_random_half():
    names = [f"{i:06d}.jpg" for i in range(1, 20001)]
    values = random_attribute(names)
    assert set(np.unique(values)) == {-1, 1}
    assert abs((values == 1).mean() - 0.5) < 0.02
    assert (values == random_attribute(names)).all()
    table, identities = table_with_identities()
    experiment = Experiment("control", ("Random",), dict.fromkeys(CONDITIONS, 400))
    subsets = build_indices(table, experiment, 1, design=DESIGN, identities=identities)
    assert (random_attribute(subsets["target"]) == 1).all()
    assert (random_attribute(subsets["nontarget"]) == -1).all()


def test_config_accepts_random_and_rejects_unknown_attributes():
    config = {"experiments": {"c": {"attributes": ["Random"], "size": 10}}, "metrics": {}}
    check_semantics(config)
    config["experiments"]["c"]["attributes"] = ["Randomm"]
    with pytest.raises(ConfigError, match="Random"):
        check_semantics(config)

"""Index building: conditions, balance, determinism and feasibility errors."""

from __future__ import annotations

import hashlib
import itertools
import time

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from modedrop.allocation import check_feasible, marginal_allocation
from modedrop.design import (
    CONDITIONS,
    Design,
    Experiment,
    InfeasibleExperimentError,
    with_random_attribute,
)
from modedrop.indices import (
    build_indices,
    describe_subsets,
    read_index,
    sample_condition,
    write_index,
)
from modedrop.reference import REFERENCE, experiment_indices


def planted_table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = np.where(rng.random((n, 3)) < [0.4, 0.5, 0.75], 1, -1).astype(np.int8)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    return pd.DataFrame(values, index=pd.Index(names, name="image"), columns=["A", "B", "C"])


def test_conditions_have_the_promised_attribute_values():
    table = planted_table()
    experiment = Experiment("e", ("A", "B"), dict.fromkeys(CONDITIONS, 200))
    subsets = build_indices(table, experiment, seed=1)
    assert (table.loc[subsets["target"], ["A", "B"]] == 1).all().all()
    assert (table.loc[subsets["nontarget"], ["A", "B"]] == -1).all().all()
    counts = table.loc[subsets["unbiased"]].groupby(["A", "B"]).size()
    assert len(counts) == 4 and (counts == 50).all()
    for names in subsets.values():
        assert len(names) == 200 and names == sorted(names) and len(set(names)) == 200


def test_sampling_is_deterministic_and_depends_on_seed_experiment_condition():
    table = planted_table()
    experiment = Experiment("e", ("A",), dict.fromkeys(CONDITIONS, 100))
    first = sample_condition(table, experiment, 3, "unbiased")
    assert first == sample_condition(table, experiment, 3, "unbiased")
    assert first != sample_condition(table, experiment, 4, "unbiased")
    renamed = Experiment("f", ("A",), dict.fromkeys(CONDITIONS, 100))
    assert first != sample_condition(table, renamed, 3, "unbiased")


def test_sampling_is_stable_across_versions():
    # A regression pin: the algorithm (PCG64 + SeedSequence + argsort of doubles) must not drift.
    table = planted_table()
    experiment = Experiment("drop_a", ("A",), dict.fromkeys(CONDITIONS, 10))
    assert sample_condition(table, experiment, 1, "target")[:3] == PINNED_FIRST_THREE


def test_infeasible_size_names_smallest_cell_count_and_largest_size():
    table = planted_table()
    cells = table.groupby(["A", "B", "C"]).size()
    smallest = int(cells.min())
    experiment = Experiment("big", ("A", "B", "C"), dict.fromkeys(CONDITIONS, 8 * (smallest + 1)))
    with pytest.raises(InfeasibleExperimentError) as error:
        check_feasible(table, experiment)
    message = str(error.value)
    assert "unbiased" in message and f"holds only {smallest}" in message
    assert f"largest feasible size for this condition is {8 * smallest}" in message


def test_unbiased_size_must_split_evenly():
    table = planted_table()
    with pytest.raises(ValueError, match="divisible by 2"):
        check_feasible(table, Experiment("odd", ("A",), dict.fromkeys(CONDITIONS, 101)))


def test_unknown_attribute_is_named():
    with pytest.raises(ValueError, match="unknown attribute"):
        check_feasible(planted_table(), Experiment("x", ("Nope",), dict.fromkeys(CONDITIONS, 4)))


def test_size_per_condition_from_config():
    experiment = Experiment.from_config(
        "x", {"attributes": ["A"], "size": {"unbiased": 10, "target": 6, "nontarget": 4}}
    )
    subsets = build_indices(planted_table(), experiment, seed=1)
    assert [len(subsets[c]) for c in CONDITIONS] == [10, 6, 4]


def test_index_file_round_trip(tmp_path):
    path = tmp_path / "a" / "unbiased.txt"
    write_index(path, ["000002.jpg", "000001.jpg"])
    assert path.read_text() == "000001.jpg\n000002.jpg\n"
    assert read_index(path) == ["000001.jpg", "000002.jpg"]
    path.write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_index(path)


def test_marginal_balance_halves_every_attribute_and_stays_near_joint():
    table = planted_table(n=4000)
    # Cell (A+, B-, C-) is the rarest (~5 %): 8 x 150 = 1,200 fits jointly, 2,400 does not.
    sizes = {"unbiased": 1200, "target": 10, "nontarget": 10}
    experiment = Experiment("m", ("A", "B", "C"), sizes, "marginal")
    joint = Experiment("m", ("A", "B", "C"), sizes)
    assert build_indices(table, experiment, 1) == build_indices(table, joint, 1)

    unbiased = {"unbiased": 1800, "target": 10, "nontarget": 10}
    with pytest.raises(InfeasibleExperimentError, match="set balance: marginal"):
        check_feasible(table, Experiment("m", ("A", "B", "C"), unbiased))
    subsets = build_indices(table, Experiment("m", ("A", "B", "C"), unbiased, "marginal"), 1)
    chosen = table.loc[subsets["unbiased"]]
    assert len(chosen) == 1800 and len(set(subsets["unbiased"])) == 1800
    assert ((chosen == 1).sum() == 900).all()  # each attribute +1 in exactly half
    cells = chosen.groupby(["A", "B", "C"]).size()
    capacity = table.groupby(["A", "B", "C"]).size()
    assert len(cells) == 8 and (cells <= capacity).all()
    # Cells too small to give their joint share 225 give everything they hold; no other
    # combination moves further from 225 than the total shortfall that has to be made up.
    shortfall = (225 - capacity).clip(lower=0)
    assert (cells[shortfall > 0] == capacity[shortfall > 0]).all()
    assert (cells - 225).abs().max() <= shortfall.sum()


def test_marginal_allocation_matches_the_planted_optimum():
    combos = list(itertools.product((1, -1), repeat=2))
    # Two attributes: the deficit of cell (+,+) moves to (-,-), the marginals stay at half.
    assert marginal_allocation(combos, [10, 100, 100, 100], 100) == [10, 40, 40, 10]
    assert marginal_allocation(combos, [10, 100, 100, 100], 220) == [10, 100, 100, 10]
    assert marginal_allocation(combos, [10, 100, 100, 100], 222) is None  # (+,-) > 100


def test_marginal_balance_errors_name_the_fix():
    table = planted_table()
    with pytest.raises(ValueError, match="even size"):
        check_feasible(
            table, Experiment("o", ("A", "B"), dict.fromkeys(CONDITIONS, 11), "marginal")
        )
    with pytest.raises(InfeasibleExperimentError, match="largest feasible size is"):
        sizes = {"unbiased": 1990, "target": 2, "nontarget": 2}
        check_feasible(table, Experiment("o", ("A", "B"), sizes, "marginal"))
    with pytest.raises(ValueError, match="unknown balance"):
        Experiment("o", ("A",), dict.fromkeys(CONDITIONS, 2), "natural")


def _paper_config() -> dict:
    import yaml

    return yaml.safe_load((REPO / "config" / "celeba.yaml").read_text())


def _paper_experiments() -> dict[str, Experiment]:
    config = _paper_config()
    return {name: Experiment.from_config(name, b) for name, b in config["experiments"].items()}


def test_paper_protocol_on_real_celeba_metadata(celeba_meta):
    """Every index file of config/celeba.yaml from the real 202,599 rows: feasible, fast, pinned.

    3 experiments x 5 seeds x (8 conditions - Haratian's three, three doses, two collapse
    fractions - and the experiment's balanced reference, drawn first and never evaluated).
    """
    from modedrop.data.celeba_format import read_attributes, read_identities

    table = read_attributes(celeba_meta / "list_attr_celeba.txt")
    identities = read_identities(celeba_meta / "identity_CelebA.txt")
    assert len(table) == 202_599
    experiments = _paper_experiments()
    design = Design.from_config(_paper_config())
    assert {n: e.sizes["unbiased"] for n, e in experiments.items()} == {
        "drop_male": 51_200,
        "drop_three": 21_760,
        "control_random": 51_200,
    }
    assert (design.reference_size, design.reference_distribution) == (1600, "balanced")
    start = time.perf_counter()
    digest = hashlib.sha256()
    for seed in (1, 2, 3, 4, 5):
        for name, experiment in sorted(experiments.items()):
            subsets = experiment_indices(
                table, experiment, seed, design=design, identities=identities
            )
            reference = subsets.pop(REFERENCE)
            assert len(reference) == 1600 == len(set(reference))
            digest.update(f"{name}/{seed}/reference\n".encode())
            digest.update("".join(f"{n}\n" for n in reference).encode())
            assert list(subsets) == list(design.conditions)
            for condition, names in subsets.items():
                assert len(names) == experiment.sizes["unbiased"] == len(set(names))
                assert not set(names) & set(reference)
                digest.update(f"{name}/{seed}/{condition}\n".encode())
                digest.update("".join(f"{n}\n" for n in names).encode())
            shares = describe_subsets(
                {"reference": reference, "unbiased": subsets["unbiased"]},
                with_random_attribute(table, experiment.attributes),
                experiment.attributes,
            )
            assert shares["reference"]["fraction_positive"] == {
                a: 0.5 for a in experiment.attributes
            }
            assert shares["unbiased"]["fraction_positive"] == {
                a: 0.5 for a in experiment.attributes
            }
    seconds = time.perf_counter() - start
    assert seconds < 60, f"building the 135 paper index files took {seconds:.1f} s"
    # A regression pin of every file's content: the RNG algorithm must not drift across
    # platforms or library versions (PCG64 + SeedSequence + stable argsort of doubles + HiGHS).
    assert digest.hexdigest() == PINNED_PAPER_INDICES_SHA256

    # The joint reading of "unbiased" does not fit CelebA for drop_three: 2,720 per cell are
    # needed and (Attractive+, High_Cheekbones-, Young-) holds only 2,307 - hence balance: marginal.
    drop_three = experiments["drop_three"]
    assert drop_three.balance == "marginal"
    joint = Experiment("drop_three", drop_three.attributes, drop_three.sizes)
    with pytest.raises(InfeasibleExperimentError, match="holds only 2307"):
        check_feasible(table, joint)
    chosen = table.loc[build_indices(table, drop_three, 1)["unbiased"], list(drop_three.attributes)]
    assert ((chosen == 1).sum() == 10_880).all()
    cells = chosen.groupby(list(drop_three.attributes)).size()
    assert set(cells.index) == set(itertools.product((-1, 1), repeat=3))
    assert cells.min() == 2307 and cells.max() <= 2720 + 207


PINNED_PAPER_INDICES_SHA256 = "4054993e5f393b96491c9a9250af88dbd3c14638e6e6acf994ec9c420c878c37"
PINNED_FIRST_THREE = ["000159.jpg", "000183.jpg", "000226.jpg"]

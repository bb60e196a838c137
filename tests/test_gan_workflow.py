"""The three generator studies through Snakemake, tiny: targets gan_toy, gan_dcgan, calibration.

One run in a copy of the workflow (a few minutes on 2 cores): the toy GANs, two DCGANs exported
as TorchScript, a user's generator given as an entry point in the working directory, sample sets
embedded with the real encoder, the scores table, and the MCCS diagnosis and calibration. Then
dry-run plans check that a code edit re-runs exactly the jobs it affects.
"""

import numpy as np
import pandas as pd

from modedrop.gan.dcgan_samples import read_final_samples
from modedrop.priors import load_prior_file
from workflow_helpers import planned_jobs

RESULTS = "results/synthfaces"
TOY = "results/gan_toy"


def test_every_study_target_is_built(gan_study):
    expected = [
        f"{TOY}/tables/toy_gan_summary.csv",
        f"{TOY}/tables/toy_gan_final.csv",
        *(
            f"{TOY}/figures/toy_{t}_{k}.png"
            for t in ("ring", "moons")
            for k in ("snapshots", "curves")
        ),
        f"{RESULTS}/tables/dcgan_ndb.csv",
        *(f"{RESULTS}/figures/dcgan_{k}.png" for k in ("ndb_curves", "samples", "largest_bin")),
        f"{RESULTS}/tables/generator_scores.csv",
        f"{RESULTS}/tables/calibration.csv",
        f"{RESULTS}/figures/calibration_dcgan_z8.png",
        f"{RESULTS}/figures/calibration_dcgan_z8_dense_modes.png",
    ]
    missing = [path for path in expected if not (gan_study / path).is_file()]
    assert not missing
    assert all(
        (gan_study / path).stat().st_size > 1000 for path in expected if path.endswith("png")
    )


def test_toy_tables_aggregate_every_seed(gan_study):
    final = pd.read_csv(gan_study / TOY / "tables/toy_gan_final.csv")
    covered = final[final["metric"] == "modes_covered"]
    assert sorted(covered["dataset"].unique()) == ["moons", "ring"]
    assert set(covered["latent_dim"]) == {1, 2}
    assert (covered["n"] == 2).all() and (covered["step"] == 300).all()


def test_dcgan_history_and_torchscript_generators(gan_study):
    history = pd.read_csv(gan_study / RESULTS / "tables/dcgan_ndb.csv")
    assert sorted(history["latent_dim"].unique()) == [1, 8]
    assert sorted(history[history["latent_dim"] == 8]["step"]) == [0, 10, 20]
    final = read_final_samples(gan_study / RESULTS / "gan/dcgan/z8/final_samples.npz")
    assert final.images.shape == (50, 32, 32, 3)
    for z in (8, 1):  # the training checkpoint is kept, so an interrupted run can resume
        assert (gan_study / RESULTS / f"gan/dcgan/z{z}/checkpoint.pt").is_file()


def test_entry_point_and_torchscript_generators_are_scored_alike(gan_study):
    scores = pd.read_csv(gan_study / RESULTS / "tables/generator_scores.csv")
    assert list(scores["generator"]) == ["dcgan_z8", "dcgan_z1", "user_gan"]
    assert (scores["n_generated"] == 64).all() and (scores["n_reference"] == 64).all()
    assert scores[["rankme", "vendi", "fd", "kid"]].notna().all().all()
    # The 20-step DCGANs may still draw one flat image (RankMe 1); the random user network
    # draws varied ones, which the same metric functions must see.
    by_name = scores.set_index("generator")
    assert by_name.loc["user_gan", "rankme"] > 1.5
    assert by_name.loc["dcgan_z8", "rankme"] >= 0.99
    assert (scores["reference_rankme"] == scores["reference_rankme"].iloc[0]).all()


def test_calibration_table_and_priors(gan_study):
    table = pd.read_csv(gan_study / RESULTS / "tables/calibration.csv")
    assert list(table["generator"]) == ["original", "gmm", "rejection"]
    assert table[["worst_mccs", "mccs_mean", "mccs_std", "fd"]].notna().all().all()
    assert ((table["worst_mccs"] >= 0) & (table["worst_mccs"] <= 1)).all()
    gmm = load_prior_file(gan_study / RESULTS / "calibration/dcgan_z8/gmm_prior.npz")
    assert gmm.latent_dim == 8
    assert gmm.sample(5, np.random.default_rng(0)).shape == (5, 8)


def test_a_finished_study_plans_nothing(gan_study):
    assert planned_jobs(gan_study, "gan_toy", "gan_dcgan", "calibration") == {}


def test_code_edits_rerun_exactly_the_jobs_they_affect(gan_study):
    targets = ("gan_toy", "gan_dcgan", "calibration")
    toy = gan_study / "workflow/modedrop/gan/toy_training.py"
    calibration = gan_study / "workflow/modedrop/calibration.py"
    for path, expected in (
        (toy, {"train_toy_gan": 4, "aggregate_toy_gan": 1, "plot_toy_gan": 2, "gan_toy": 1}),
        (
            calibration,
            {
                "calibrate_generator": 1,
                "generate_sample_set": 2,  # the two calibrated samplers, not the others
                "embed_sample_set": 2,
                "evaluate_calibration": 1,
                "calibration_table": 1,
                "calibration": 1,
            },
        ),
    ):
        original = path.read_text()
        path.write_text(original + "\n# an edit\n")
        try:
            assert planned_jobs(gan_study, *targets) == expected
        finally:
            path.write_text(original)

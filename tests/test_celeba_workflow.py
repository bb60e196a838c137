"""The paper configuration (config/celeba.yaml) through Snakemake.

* At full size, a dry run on the real metadata plans exactly the paper's jobs.
* At reduced size (two seeds, tiny subsets), the paper config runs end to end with every metric
  on a CelebA-format folder built from the first rows of the real metadata plus stand-in JPEGs,
  with VICReg, DINO and Inception-v3 loading random weights written in their official key
  layouts, and dlib's packaged face descriptor.
* Missing data and a wrong checksum stop the run before any index or feature is computed.

The real metadata sit in ../shared/celeba (contributors only): without them these tests skip.
"""

from __future__ import annotations

import copy
import json
import shutil

import h5py
import pandas as pd
import pytest
import torch
import torchvision
import yaml

from celeba_fixture import make_celeba_folder
from conftest import REPO
from modedrop.encoders.base import file_sha256
from workflow_helpers import copy_workflow, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.slow

PAPER = yaml.safe_load((REPO / "config" / "celeba.yaml").read_text())
REDUCED_SEEDS = [1, 2]
FAST_KNOWN_RANK = {"dim": 16, "ranks": [2, 4], "n_samples": [8, 32, 128], "repeats": 2}


def paper_config(**changes) -> dict:
    config = copy.deepcopy(PAPER)
    for key, value in changes.items():
        config[key] = value
    return config


def official_copy(dest, celeba_meta):
    """The three official text files, copied, and an (empty) image folder: enough to plan."""
    dest.mkdir()
    for name in ("list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt"):
        shutil.copyfile(celeba_meta / name, dest / name)
    (dest / "img_align_celeba").mkdir()
    return dest


def test_full_size_dry_run_plans_the_paper_jobs(workdir, tmp_path, celeba_meta):
    root = official_copy(tmp_path / "celeba", celeba_meta)
    config = paper_config(celeba={"root": str(root), "download": False})
    plan = planned_jobs(workdir, "--configfile", write_config(workdir, config))
    experiments, seeds = 3, 5  # drop_male, drop_three and the control_random negative control
    representation = 2  # vicreg_resnet50, dino_resnet50
    per_seed = experiments * seeds
    assert plan == {
        "verify_dataset": 1,
        "build_indices": per_seed,  # 15 jobs, 8 index files each
        "extract_features": 4,  # vicreg_resnet50, dino_resnet50, inception_v3, dlib_face
        "rankme": per_seed * representation,
        "inception_score_features": per_seed * representation,  # Haratian's "VicReg + IS"
        "inception_score": per_seed,  # inception_v3
        "fd_kd": per_seed * 3,  # FID on inception_v3, FD on the two representation encoders
        "prdc": per_seed * representation,
        "vendi": per_seed * representation,
        "ndb": per_seed * representation,
        "c2st": per_seed * representation,
        "mccs": per_seed,  # dlib_face
        "ms_ssim": per_seed,  # pixels
        "duplicates": per_seed * 2,  # dino_resnet50, dlib_face
        "aggregate": 1,
        "plot_experiment": experiments * 5,  # 4 encoders + pixels
        "plot_detection": 1,
        "plot_response": experiments * 2,  # dose and collapse
        "plot_ndb_bins": experiments * representation,
        "plot_duplicate_pairs": experiments * 2,
        "rankme_known_rank": 1,
        "plot_dataset_sample": 1,
        "plot_paper": experiments * representation,  # Haratian's Figures 2-5
        "null_calibration": 1,
        "headline": 1,
        # The generator studies at the seeds' scale.
        "train_toy_gan": 9,  # 3 toy data sets x latent sizes 1, 2, 4 (seeds in one job)
        "aggregate_toy_gan": 1,
        "plot_toy_gan": 3,
        "gan_training_set": 1,
        "train_dcgan": 3,  # latent sizes 100, 5, 1
        "plot_dcgan": 1,
        "generate_sample_set": 3 + 2,  # the DCGANs and dcgan_z100's two calibrated samplers
        "training_sample_set": 1,
        # vicreg and dino: 3 DCGANs + the training sample; dlib_face: dcgan_z100, its two
        # calibrated samplers and the training sample.
        "embed_sample_set": representation * 4 + 4,
        "score_sample_set": 3 * representation,
        "generator_scores_table": 1,
        "calibrate_generator": 1,
        "evaluate_calibration": 1,
        "calibration_table": 1,
        # Which attributes each condition lacks, on the two representation encoders.
        "attribute_probes": representation,
        "attribute_conditions": per_seed * representation,
        "attribution_tables": 1,
        # the 8 condition figures of seed 1, one job per experiment and encoder
        "plot_attribution_conditions": experiments * representation,
        "all": 1,
    }


def test_without_data_download_is_planned_or_the_files_are_listed(workdir):
    # No celeba.root and nothing in data/celeba: with downloads allowed, one download job
    # comes first (feasibility is then checked on the downloaded file by build_indices) ...
    plan = planned_jobs(workdir, "--configfile", write_config(workdir, paper_config()))
    assert plan["download_celeba"] == 1 and plan["verify_dataset"] == 1
    # ... without, the run stops at once with what to put where.
    config = paper_config(celeba={"root": None, "download": False})
    result = snakemake(workdir, "-n", "--configfile", write_config(workdir, config), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for name in ("img_align_celeba", "list_attr_celeba.txt", "identity_CelebA.txt"):
        assert name in output


def test_missing_file_in_celeba_root_is_named_at_parse_time(workdir, tmp_path, celeba_meta):
    root = official_copy(tmp_path / "celeba", celeba_meta)
    (root / "identity_CelebA.txt").unlink()
    config = paper_config(celeba={"root": str(root), "download": False})
    result = snakemake(workdir, "-n", "--configfile", write_config(workdir, config), check=False)
    assert result.returncode != 0
    assert str(root / "identity_CelebA.txt") in result.stdout + result.stderr


def test_wrong_checksum_stops_before_indices_and_features(workdir, tmp_path, celeba_meta):
    root = official_copy(tmp_path / "celeba", celeba_meta)
    partition = root / "list_eval_partition.txt"
    data = bytearray(partition.read_bytes())
    data[-3] = ord("1") if data[-3] != ord("1") else ord("2")  # one split label changed
    partition.write_bytes(bytes(data))
    config = paper_config(celeba={"root": str(root), "download": False})
    result = snakemake(workdir, "--configfile", write_config(workdir, config), check=False)
    assert result.returncode != 0
    results = workdir / "results" / "celeba"
    log = (results / "logs" / "verify_dataset.log").read_text()
    assert "ChecksumError" in log and "d32c9cbf5e040fd4025c592c306e6668" in log
    assert not (results / "indices").exists() and not (results / "features").exists()


# ----- the paper config end to end at reduced size ---------------------------------------------


def random_resnet50_without_fc(seed: int) -> dict:
    """A random ResNet-50 backbone in the VICReg/DINO checkpoint layout (torchvision, no fc)."""
    torch.manual_seed(seed)
    network = torchvision.models.resnet50(weights=None)
    network.fc = torch.nn.Identity()
    return network.state_dict()


def random_inception() -> dict:
    """Random weights in the layout of torch-fidelity's 2015-12-05 Inception-v3 file."""
    from modedrop.encoders.inception_v3 import network

    torch.manual_seed(3)
    return network().state_dict()


@pytest.fixture(scope="module")
def reduced_paper_run(tmp_path_factory, celeba_meta_session):
    tmp = tmp_path_factory.mktemp("paper")
    root = make_celeba_folder(tmp / "celeba_first_128", celeba_meta_session, n_rows=128)
    encoders = {}
    for name, state in (
        ("vicreg_resnet50", random_resnet50_without_fc(1)),
        ("dino_resnet50", random_resnet50_without_fc(2)),
        ("inception_v3", random_inception()),
    ):
        path = tmp / f"{name}.pth"
        torch.save(state, path)
        # Random weights cannot have the published hash: name their own, as a user would.
        encoders[name] = {"weights": str(path), "sha256": file_sha256(path)}
    encoders["dlib_face"] = PAPER["encoders"]["dlib_face"]  # packaged with the wheel
    metrics = copy.deepcopy(PAPER["metrics"])
    # Only the sizes shrink: 128 images leave tiny subsets for bins, folds and subsets, and the
    # first 128 rows hold too few repeated identities to calibrate MCCS on 24 reference images.
    metrics["ndb"]["bins"] = 4
    metrics["inception_score"]["splits"] = 4
    metrics["inception_score_features"]["splits"] = 4
    metrics["c2st"].update(folds=2, pca_components=4)
    metrics["mccs"].update(theta=0.15, radius=0.12)
    metrics["ms_ssim"]["pairs"] = 20
    config = paper_config(
        studies=["mode_drop"],  # the generator studies have their own tiny test
        dataset="celeba_format",
        celeba_format={"root": str(root)},
        seeds=REDUCED_SEEDS,
        experiments={
            "drop_male": {**PAPER["experiments"]["drop_male"], "size": 24},
            "drop_three": {**PAPER["experiments"]["drop_three"], "size": 8},
        },
        reference={"size": 24},
        intra_mode_collapse={**PAPER["intra_mode_collapse"], "fractions": [0.5]},
        features={**PAPER["features"], "batch_size": 32, "device": "cpu", "threads": 2},
        encoders=encoders,
        metrics=metrics,
        rankme_known_rank=FAST_KNOWN_RANK,
    )
    workdir = copy_workflow(tmp / "run")
    snakemake(workdir, "--configfile", write_config(workdir, config))
    return workdir / "results" / "celeba_format", config


def test_reduced_paper_config_runs_end_to_end(reduced_paper_run):
    results, config = reduced_paper_run
    manifest = json.loads((results / "data" / "manifest.json").read_text())
    assert manifest["n_images"] == 128
    table = pd.read_csv(results / "tables" / "metrics.csv")
    counts = table.groupby("encoder").size().to_dict()
    conditions = 3 + 3 + 1  # base, dose25/50/75, collapse50
    per_output = 2 * len(REDUCED_SEEDS) * conditions  # experiments x seeds x conditions
    outputs = {
        # rankme, inception_score_features, fd_kd, prdc, vendi, ndb, c2st
        "vicreg_resnet50": 1 + 1 + 2 + 6 + 1 + 4 + 2,
        "dino_resnet50": 1 + 1 + 2 + 6 + 1 + 4 + 2 + 3,  # ... and duplicates
        "inception_v3": 1 + 2,  # inception_score, fd_kd (FID)
        "dlib_face": 3 + 3,  # mccs, duplicates
        "pixels": 1,  # ms_ssim
    }
    assert counts == {encoder: n * per_output for encoder, n in outputs.items()}
    assert sorted(table["seed"].unique()) == REDUCED_SEEDS
    assert table["value"].notna().all()
    detection = pd.read_csv(results / "tables" / "detection.csv")
    assert len(detection) == len(table) // conditions * (conditions - 1) // len(REDUCED_SEEDS)
    for experiment in config["experiments"]:
        for encoder in [*config["encoders"], "pixels"]:
            assert (results / "figures" / f"{experiment}_{encoder}.png").stat().st_size > 0
        for encoder in ("vicreg_resnet50", "dino_resnet50"):  # Haratian's Figures 2-5
            assert (results / "figures" / "paper" / f"{experiment}_{encoder}.png").exists()
    for name in ("null_calibration", "headline"):
        assert (results / "tables" / f"{name}.csv").stat().st_size > 0
    # Stand-in JPEGs hold no face: dlib_face says so in the cache instead of dropping them.
    with h5py.File(results / "features" / "dlib_face.h5") as cache:
        assert cache["face_found"].shape == (128,) and cache.attrs["n_no_face"] >= 0


def test_feature_caches_record_the_weights_that_made_them(reduced_paper_run):
    results, config = reduced_paper_run
    dims = {"vicreg_resnet50": (2048, None), "dino_resnet50": (2048, None)}
    dims["inception_v3"] = (2048, 1008)
    for encoder, (feature_dim, n_logits) in dims.items():
        with h5py.File(results / "features" / f"{encoder}.h5") as cache:
            assert cache["features"].shape == (128, feature_dim)
            assert cache.attrs["weights_sha256"] == config["encoders"][encoder]["sha256"]
            if n_logits:
                assert cache["logits"].shape == (128, n_logits)
            else:
                assert "logits" not in cache
        throughput = pd.read_csv(
            results / "benchmarks" / "features" / f"{encoder}_throughput.tsv", sep="\t"
        )
        assert throughput.loc[0, "images"] == 128 and throughput.loc[0, "images_per_s"] > 0


def test_reduced_drop_three_is_marginally_balanced(reduced_paper_run):
    from modedrop.data.celeba_format import read_attributes

    results, config = reduced_paper_run
    attributes = read_attributes(f"{config['celeba_format']['root']}/list_attr_celeba.txt")
    targets = config["experiments"]["drop_three"]["attributes"]
    for seed in REDUCED_SEEDS:
        names = (results / "indices" / "drop_three" / f"seed{seed}" / "unbiased.txt").read_text()
        chosen = attributes.loc[names.split(), targets]
        assert len(chosen) == 8 and ((chosen == 1).sum() == 4).all()

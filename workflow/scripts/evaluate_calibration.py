"""MCCS and FD of a generator and of its two calibrated samplers: table and figures."""

import json

import numpy as np
import pandas as pd

from modedrop import runlog
from modedrop.calibration import diagnose
from modedrop.calibration_evaluation import evaluate_generator_set
from modedrop.calibration_plots import plot_calibration, plot_dense_modes
from modedrop.data.images import ImageList
from modedrop.gan.evaluation import read_all_features
from modedrop.generators import sample_set_names

log = runlog.start(snakemake.log[0])
settings = snakemake.params.calibration
before = json.loads(open(snakemake.input.diagnosis).read())
theta, radius = before["theta"], before["radius"]
reference = read_all_features(snakemake.input.reference)
labels = ["original", "gmm", "rejection"]  # the order of the rule's input lists


def images_at(zip_path, rows):
    """uint8 (H, W, 3) images of the given rows of a sample set."""
    names = sample_set_names(max(rows) + 1)
    images = ImageList(zip_path, names, transform=lambda image: image.permute(1, 2, 0).numpy())
    return [images[int(row)] for row in rows]


rows, scores, panels = [], {}, {}
for label, features_path, images_path, latents_path in zip(
    labels, snakemake.input.features, snakemake.input.images, snakemake.input.latents, strict=True
):
    features = read_all_features(features_path)
    common = dict(anchor_fraction=settings["anchor_fraction"], seed=settings["seed"])
    row = evaluate_generator_set(
        features,
        theta=theta,
        radius=radius,
        log=settings["log"],
        reference_features=reference,
        dense_mode_feature=np.asarray(before["dense_mode_feature"]),
        **common,
    )
    # Each set's own worst-case dense mode: I_w before, I_w' after (Wu et al., *Black-Box
    # Diagnosis and Calibration on GAN Intra-Mode Collapse*, Figures 5-6).
    own = diagnose(
        features,
        np.load(latents_path),
        theta=theta,
        radius=radius,
        log=settings["log"],
        n_nearest=settings["neighbours_shown"],
        **common,
    )
    rows.append({"generator": label, "base": snakemake.wildcards.generator, **row})
    scores[label] = own.anchor_mccs
    mode, *neighbours = images_at(images_path, [own.worst_index, *own.nearest])
    panels[f"{label}\nMCCS {own.worst_mccs:.3f}"] = (mode, neighbours)
    log.info("%s: %s", label, row)

table = pd.DataFrame(rows)
table.to_csv(snakemake.output.table, index=False, float_format="%.6g")
plot_calibration(table, scores, snakemake.output.png, snakemake.output.pdf)
plot_dense_modes(panels, snakemake.output.modes_png, snakemake.output.modes_pdf)

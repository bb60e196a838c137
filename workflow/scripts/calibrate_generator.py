"""Diagnose a generator's intra-mode collapse (MCCS) and write its two calibrated priors."""

import json

import numpy as np

from modedrop import runlog
from modedrop.calibration import diagnose
from modedrop.calibration_mixture import gaussian_mixture_prior
from modedrop.calibration_rejection import rejection_prior
from modedrop.gan.evaluation import read_all_features
from modedrop.generators import read_latents
from modedrop.metrics.mccs import calibrate_radius, calibrate_theta
from modedrop.priors import load_prior

log = runlog.start(snakemake.log[0])
settings = snakemake.params.calibration
features = read_all_features(snakemake.input.features)
latents = read_latents(snakemake.input.latents.rsplit("/", 1)[0])

# theta and r belong to the descriptor: calibrated on real images of known identity, at the
# generator's resolution (the training sample), unless the config fixes them.
reference = read_all_features(snakemake.input.reference)
identities = json.loads(open(snakemake.input.reference_description).read())["identities"]
theta = settings["theta"]
if theta is None:
    theta = calibrate_theta(reference, identities, quantile=settings["theta_quantile"])
radius = settings["radius"]
if radius is None:
    radius = calibrate_radius(reference, identities, quantile=settings["radius_quantile"])
log.info("theta %.4f, radius %.4f", theta, radius)

diagnosis = diagnose(
    features,
    latents,
    anchor_fraction=settings["anchor_fraction"],
    seed=settings["seed"],
    theta=theta,
    radius=radius,
    log=settings["log"],
)
log.info("diagnosis: %s", diagnosis.to_dict())
gmm = gaussian_mixture_prior(
    diagnosis.sample_latents,
    diagnosis.sample_features,
    diagnosis.dense_mode_feature,
    radius,
    n_clusters=settings["clusters"],
    seed=settings["seed"],
    covariance=settings["covariance"],
)
gmm.save(snakemake.output.gmm)
base_prior = load_prior(snakemake.params.spec.get("prior", "normal"), latents.shape[1])
rejection = rejection_prior(
    diagnosis.sample_latents,
    diagnosis.sample_features,
    diagnosis.dense_mode_feature,
    radius,
    reference_count=diagnosis.reference_count,
    base_prior=base_prior,
    hull_dims=settings["hull_dims"],
)
rejection.save(snakemake.output.rejection)
record = {
    **diagnosis.to_dict(),
    "gmm": gmm.to_dict(),
    "rejection": rejection.to_dict(),
    "dense_mode_feature": np.asarray(diagnosis.dense_mode_feature).tolist(),
}
with open(snakemake.output.diagnosis, "w") as handle:
    json.dump(record, handle, indent=2, sort_keys=True)
    handle.write("\n")

"""Embed a sample set (generated or training images) with one encoder, like the data set."""

import json

from modedrop import runlog
from modedrop.extraction import extract_features
from modedrop.generators import sample_set_names

log = runlog.start(snakemake.log[0])
n_images = json.loads(open(snakemake.input.description).read())["n_images"]
block = snakemake.config["encoders"].get(snakemake.wildcards.gan_encoder) or {}
stats = extract_features(
    snakemake.input.images,
    sample_set_names(n_images),
    snakemake.wildcards.gan_encoder,
    snakemake.output.cache,
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
    device=snakemake.params.device,
    weights=block.get("weights"),
    weights_sha256=block.get("sha256"),
    allow_download=snakemake.params.allow_download,
    chunk_images=snakemake.config["features"]["chunk_images"],
)
log.info("run statistics: %s", stats)

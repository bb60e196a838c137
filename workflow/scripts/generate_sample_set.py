"""Generate one generator's sample set: PNG images in a zip and the latent codes behind them."""

from modedrop import runlog
from modedrop.generators import load_generator, write_sample_set

log = runlog.start(snakemake.log[0])
generator = load_generator(snakemake.params.spec, snakemake.wildcards.generator)
description = write_sample_set(
    generator,
    snakemake.params.n_images,
    snakemake.params.seed,
    snakemake.output.images.rsplit("/", 1)[0],
)
log.info("sample set: %s", description)

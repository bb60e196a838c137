"""Pack a folder (or zip) of the user's sample images into a sample set, like a generator's."""

from modedrop import runlog
from modedrop.sample_folder import pack_sample_set

log = runlog.start(snakemake.log[0])
source = snakemake.params.source
description = pack_sample_set(
    source["images"],
    snakemake.output.images.rsplit("/", 1)[0],
    name=snakemake.wildcards.generator,
    max_images=source["max_images"],
)
log.info(
    "packed %d of %d images of %s; sizes %s",
    description["n_images"],
    description["n_available"],
    description["source"],
    description["image_sizes"],
)

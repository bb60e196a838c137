"""The real counterpart of the sample sets: training images at the generators' resolution."""

from modedrop import runlog
from modedrop.data.celeba_format import read_identities
from modedrop.gan.training_set import draw_training_sample, read_training_set
from modedrop.generators import write_image_set

log = runlog.start(snakemake.log[0])
images, names = read_training_set(snakemake.input.training_set)
rows = draw_training_sample(len(images), snakemake.params.n_images, snakemake.params.seed)
identities = read_identities(snakemake.input.identities)
source = [names[i] for i in rows]
description = {
    "generator": "training_data",
    "seed": snakemake.params.seed,
    "image_shape": list(images.shape[1:]),
    # Row i of the set is training image source[i]; identities calibrate MCCS' theta and r.
    "source_images": source,
    "identities": [int(identities[name]) for name in source],
}
write_image_set(images[rows], snakemake.output.images.rsplit("/", 1)[0], description)
log.info("%d training images of shape %s", len(rows), images.shape[1:])

"""The DCGAN's training images: every image of the data set, centre-cropped and resized."""

from modedrop import runlog
from modedrop.data.celeba_format import read_attributes
from modedrop.gan.training_set import build_training_set

log = runlog.start(snakemake.log[0])
names = list(read_attributes(snakemake.input.attributes).index)
build_training_set(
    snakemake.input.images,
    names,
    snakemake.params.resolution,
    snakemake.output[0],
    threads=snakemake.threads,
)
log.info("%d images at %d px", len(names), snakemake.params.resolution)

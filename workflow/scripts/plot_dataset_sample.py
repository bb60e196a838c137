"""A grid of random images of the data set, captioned with some of their attributes."""

from modedrop import runlog
from modedrop.data.celeba_format import read_attributes
from modedrop.plots import plot_image_sample

runlog.start(snakemake.log[0])
plot_image_sample(
    snakemake.input.images,
    read_attributes(snakemake.input.attributes),
    snakemake.output.png,
    snakemake.output.pdf,
)

"""Image grid of the most similar pairs of one subset, for a person to inspect."""

from modedrop import runlog
from modedrop.figures import duplicate_pairs_figure

runlog.start(snakemake.log[0])
duplicate_pairs_figure(
    snakemake.input.result,
    snakemake.input.images,
    snakemake.params.condition,
    snakemake.output.png,
    snakemake.output.pdf,
)

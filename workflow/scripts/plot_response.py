"""Every metric against the dose (dose-response) or the collapse fraction, for one experiment."""

from modedrop import runlog
from modedrop.figures import response_figure

runlog.start(snakemake.log[0])
response_figure(
    snakemake.input.metrics,
    experiment=snakemake.wildcards.experiment,
    axis=snakemake.wildcards.axis,
    png=snakemake.output.png,
    pdf=snakemake.output.pdf,
)

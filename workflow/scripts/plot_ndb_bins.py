"""Bar chart of the first seed's NDB bin proportions, statistically different bins marked."""

from modedrop import runlog
from modedrop.figures import ndb_bins_figure

runlog.start(snakemake.log[0])
ndb_bins_figure(snakemake.input.result, snakemake.output.png, snakemake.output.pdf)

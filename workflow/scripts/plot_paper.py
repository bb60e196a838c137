"""Haratian's (2024) two-panel figure for one (experiment, encoder): RankMe and IS on features."""

import pandas as pd

from modedrop import runlog
from modedrop.plots_paper import plot_paper_figure

runlog.start(snakemake.log[0])
plot_paper_figure(
    pd.read_csv(snakemake.input.metrics),
    experiment=snakemake.wildcards.experiment,
    encoder=snakemake.wildcards.encoder,
    attributes=snakemake.params.attributes,
    png_path=snakemake.output.png,
    pdf_path=snakemake.output.pdf,
)

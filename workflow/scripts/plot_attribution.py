"""The prevalence-ratio figure of one sample set (a generator's, or one condition's)."""

import pandas as pd

from modedrop import runlog
from modedrop.plots_attribution import plot_attribution

log = runlog.start(snakemake.log[0])
table = pd.read_csv(snakemake.input[0])
if snakemake.params.condition:
    table = table[table["condition"] == snakemake.params.condition]
plot_attribution(table, snakemake.params.title, snakemake.output.png, snakemake.output.pdf)

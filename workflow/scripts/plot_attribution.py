"""The prevalence-ratio figures of sample sets: a generator's, or every condition of a seed.

With ``params.conditions`` (a list), one figure per condition from the seed's table, the title
a template with ``{condition}``; without, one figure of the generator's whole table.
"""

import pandas as pd

from modedrop import runlog
from modedrop.plots_attribution import plot_attribution

log = runlog.start(snakemake.log[0])
table = pd.read_csv(snakemake.input[0])
conditions = snakemake.params.conditions
if conditions is None:
    plot_attribution(table, snakemake.params.title, snakemake.output.png, snakemake.output.pdf)
else:
    outputs = zip(conditions, snakemake.output.png, snakemake.output.pdf, strict=True)
    for condition, png, pdf in outputs:
        title = snakemake.params.title.format(condition=condition)
        plot_attribution(table[table["condition"] == condition], title, png, pdf)

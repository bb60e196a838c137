"""False-positive rate of every metric output on the null experiments (Random split), and the
unbiased subsets against the reference: table and figure."""

import pandas as pd

from modedrop import runlog
from modedrop.headline import null_calibration_table
from modedrop.plots_headline import plot_null_calibration

log = runlog.start(snakemake.log[0])
table = null_calibration_table(
    pd.read_csv(snakemake.input.detection),
    pd.read_csv(snakemake.input.metrics),
    snakemake.params.experiments,
    snakemake.params.alpha,
    ndb_alpha=snakemake.params.ndb_alpha,
)
table.to_csv(snakemake.output.table, index=False)
plot_null_calibration(
    table, snakemake.output.png, snakemake.output.pdf, alpha=snakemake.params.alpha
)
log.info(
    "%d outputs, %d null comparisons, %d false positives",
    len(table),
    int(table["n_null"].sum()),
    int(table["n_detected"].sum()),
)

"""The study's answer: which metric output notices a dropped mode (table and figure)."""

import pandas as pd

from modedrop import runlog
from modedrop.headline import headline_table
from modedrop.plots_headline import plot_headline

log = runlog.start(snakemake.log[0])
table = headline_table(
    pd.read_csv(snakemake.input.detection),
    pd.read_csv(snakemake.input.null_calibration),
    snakemake.params.experiments,
)
table.to_csv(snakemake.output.table, index=False)
plot_headline(table, snakemake.output.png, snakemake.output.pdf)
noticed = table.loc[table["notices_drops"], ["metric", "encoder"]]
log.info(
    "%d of %d outputs notice dropped modes: %s",
    len(noticed),
    len(table),
    ", ".join(f"{m} ({e})" for m, e in noticed.itertuples(index=False)) or "none",
)

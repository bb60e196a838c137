"""Stack the calibration evaluations of every calibrated generator into one table."""

import pandas as pd

from modedrop import runlog

log = runlog.start(snakemake.log[0])
table = pd.concat([pd.read_csv(path) for path in snakemake.input.reports], ignore_index=True)
table.to_csv(snakemake.output[0], index=False, float_format="%.6g")
log.info("%d rows", len(table))

"""Collect the generators' scores into one table, with the training sample's own diversity."""

from modedrop import runlog
from modedrop.gan.evaluation import read_scores, scores_table

log = runlog.start(snakemake.log[0])
records = [read_scores(path) for path in snakemake.input.scores]
table = scores_table(records)
table.to_csv(snakemake.output[0], index=False, float_format="%.6g")
log.info("%d generator scores", len(table))

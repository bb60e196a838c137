"""Collect every metric record into the long table and summarise it across seeds."""

from modedrop import runlog
from modedrop.records import read_records
from modedrop.stats import summarize

log = runlog.start(snakemake.log[0])
table = read_records(snakemake.input.records)
table.to_csv(snakemake.output.metrics, index=False)
summary = summarize(table)
summary.to_csv(snakemake.output.summary, index=False)
log.info("%d records, %d summary rows", len(table), len(summary))

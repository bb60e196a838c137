"""Collect every metric record into the long table; summarise it and test for detection."""

from modedrop import runlog
from modedrop.metrics import worse
from modedrop.records import read_records
from modedrop.stats import detection_table, summarize

log = runlog.start(snakemake.log[0])
table = read_records(snakemake.input.records)
table.to_csv(snakemake.output.metrics, index=False)
summary = summarize(table)
summary.to_csv(snakemake.output.summary, index=False)
detection = detection_table(table, worse(), alpha=snakemake.params.alpha)
detection.to_csv(snakemake.output.detection, index=False)
log.info(
    "%d records, %d summary rows, %d comparisons, %d detected",
    len(table),
    len(summary),
    len(detection),
    int(detection["detected"].sum()),
)

"""One metric family's job: every condition of one (experiment, encoder, seed), from the cache.

The rule's name is the family (``modedrop.metrics.METRICS``); its ``evaluate`` function comes
from ``modedrop.evaluate.<family>``.
"""

from modedrop.jobs import run_metric_job

run_metric_job(snakemake)

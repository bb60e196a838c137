"""Birthday-paradox near-duplicate statistics of every condition of one seed."""

from modedrop.evaluate.duplicates import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

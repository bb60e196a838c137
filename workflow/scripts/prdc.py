"""Precision, recall, density and coverage (k=5) and improved precision/recall (k=3) against the reference."""

from modedrop.evaluate.prdc import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

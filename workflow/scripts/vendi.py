"""Vendi score of every condition of one seed."""

from modedrop.evaluate.vendi import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

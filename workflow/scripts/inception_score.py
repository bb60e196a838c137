"""Inception Score formula of every condition of one seed, from cached classifier logits."""

from modedrop.evaluate.inception_score import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

"""Classifier two-sample tests (logistic, k-NN) of every condition of one seed against its reference."""

from modedrop.evaluate.c2st import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

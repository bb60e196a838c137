"""Fréchet and kernel (KID) distances of every condition of one seed to its reference."""

from modedrop.evaluate.fd_kd import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

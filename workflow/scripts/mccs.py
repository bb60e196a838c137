"""MCCS (intra-mode collapse) of every condition of one seed, on identity descriptor features."""

from modedrop.evaluate.mccs import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

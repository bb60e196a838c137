"""RankMe of every condition of one seed (Garrido et al. 2023), from the feature cache."""

from modedrop.evaluate.rankme import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

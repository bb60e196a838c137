"""NDB/K and JSD of every condition of one seed against k-means bins of its reference."""

from modedrop.evaluate.ndb import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

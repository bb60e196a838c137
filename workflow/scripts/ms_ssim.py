"""MS-SSIM over random image pairs of every condition of one seed (pixel space)."""

from modedrop.evaluate.ms_ssim import evaluate
from modedrop.jobs import run_metric_job

run_metric_job(snakemake, evaluate)

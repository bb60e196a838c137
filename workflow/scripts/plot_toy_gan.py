"""Scatter snapshots of the first seed and the metric curves of one toy data set."""

import pandas as pd

from modedrop import runlog
from modedrop.gan.toy_plots import plot_toy_curves, plot_toy_snapshots
from modedrop.gan.toy_real_data import real_sample
from modedrop.gan.toy_run_io import load_run

runlog.start(snakemake.log[0])
toy, seed = snakemake.wildcards.toy, snakemake.params.seed
snapshots = {}
for latent, path in zip(snakemake.params.latent_dims, snakemake.input.snapshots, strict=True):
    run = load_run(path.rsplit("/", 1)[0])
    row = run.seeds.index(seed)
    snapshots[latent] = {step: points[row] for step, points in run.snapshots.items()}
real = real_sample(toy, seed, 2000)
plot_toy_snapshots(
    snapshots, real, toy, seed, snakemake.output.snapshots_png, snakemake.output.snapshots_pdf
)
summary = pd.read_csv(snakemake.input.summary)
plot_toy_curves(
    summary[summary["dataset"] == toy],
    toy,
    snakemake.output.curves_png,
    snakemake.output.curves_pdf,
    alpha=snakemake.params.alpha,
)

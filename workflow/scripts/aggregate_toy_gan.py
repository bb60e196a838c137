"""Aggregate the toy-GAN histories over seeds: every step, and the final step alone."""

import pandas as pd

from modedrop import runlog
from modedrop.gan.toy_training import summarize_history

log = runlog.start(snakemake.log[0])
history = pd.concat([pd.read_csv(path) for path in snakemake.input.histories], ignore_index=True)
summary = summarize_history(history)
summary.to_csv(snakemake.output.summary, index=False, float_format="%.6g")
last = summary.groupby(["dataset", "latent_dim"])["step"].transform("max")
summary[summary["step"] == last].to_csv(snakemake.output.final, index=False, float_format="%.6g")
log.info("%d summary rows from %d history rows", len(summary), len(history))

"""Concatenate the attribution jobs into the study's tables; validate on the planted drops."""

import pandas as pd

from modedrop import runlog
from modedrop.attribution_validation import validation_table

log = runlog.start(snakemake.log[0])
pd.concat(map(pd.read_csv, snakemake.input.probes), ignore_index=True).to_csv(
    snakemake.output.probes, index=False
)
conditions = pd.concat(map(pd.read_csv, snakemake.input.conditions), ignore_index=True)
generators = [pd.read_csv(p) for p in snakemake.input.generators]
attribution = pd.concat(
    [conditions.assign(set_kind="condition")]
    + [g.assign(set_kind="generator") for g in generators],
    ignore_index=True,
)
attribution.to_csv(snakemake.output.attribution, index=False)
validation = validation_table(conditions, snakemake.params.targets, alpha=snakemake.params.alpha)
validation.to_csv(snakemake.output.validation, index=False)
log.info("%d attribution rows, %d validation rows", len(attribution), len(validation))

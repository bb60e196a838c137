"""Attribute every condition of one (experiment, seed) against its reference."""

import pandas as pd

from modedrop import runlog
from modedrop.attribution_jobs import attribute_conditions
from modedrop.dataset_probes import DatasetPredictions

log = runlog.start(snakemake.log[0])
table = attribute_conditions(
    DatasetPredictions.load(snakemake.input.probabilities),
    pd.read_csv(snakemake.input.probes_table),
    snakemake.input.indices,
    snakemake.input.reference,
    snakemake.params.targets,
    snakemake.params.settings,
    experiment=snakemake.wildcards.experiment,
    seed=int(snakemake.wildcards.seed),
)
table.insert(0, "encoder", snakemake.wildcards.encoder)
table.to_csv(snakemake.output[0], index=False)
log.info("%d rows, %d named", len(table), int((table["named"].fillna("") != "").sum()))

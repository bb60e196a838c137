"""Attribute one generator's sample set against the data set."""

import pandas as pd

from modedrop import runlog
from modedrop.attribution_jobs import attribute_sample_set
from modedrop.dataset_probes import DatasetPredictions
from modedrop.probes import ProbeSet

log = runlog.start(snakemake.log[0])
table = attribute_sample_set(
    snakemake.input.features,
    ProbeSet.load(snakemake.input.probes),
    DatasetPredictions.load(snakemake.input.probabilities),
    pd.read_csv(snakemake.input.probes_table),
    snakemake.params.groups,
    snakemake.params.settings,
)
table.insert(0, "generator", snakemake.wildcards.generator)
table.insert(0, "encoder", snakemake.wildcards.encoder)
table.to_csv(snakemake.output[0], index=False)
named = table[table["named"].fillna("") != ""]
listed = [f"{feature} ({side})" for feature, side in zip(named.feature, named.named, strict=True)]
log.info("named: %s", ", ".join(listed) or "none")

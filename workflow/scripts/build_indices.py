"""Write the index files of every condition for one (experiment, seed), and their summary."""

import json
from pathlib import Path

from modedrop import runlog
from modedrop.data.celeba_format import read_attributes, read_identities
from modedrop.indices import (
    Design,
    Experiment,
    build_indices,
    describe_subsets,
    read_index,
    write_index,
)

log = runlog.start(snakemake.log[0])
experiment = Experiment.from_config(snakemake.wildcards.experiment, snakemake.params.experiment)
attributes = read_attributes(snakemake.input.attributes)
identities = read_identities(snakemake.input.identities)
subsets = build_indices(
    attributes,
    experiment,
    int(snakemake.wildcards.seed),
    design=Design.from_config(snakemake.params.design),
    exclude=read_index(snakemake.input.reference),
    identities=identities,
)
for path in snakemake.output.indices:
    condition = Path(path).stem
    write_index(path, subsets[condition])
    log.info("%s: %d images", condition, len(subsets[condition]))
summary = describe_subsets(subsets, attributes, experiment.attributes, identities)
Path(snakemake.output.summary).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")

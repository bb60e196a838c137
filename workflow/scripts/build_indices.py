"""Write one (experiment, seed)'s held-out reference and every condition's index file."""

import json
from pathlib import Path

from modedrop import runlog
from modedrop.data.celeba_format import read_attributes, read_identities
from modedrop.design import Design, Experiment
from modedrop.indices import describe_subsets, write_index
from modedrop.reference import experiment_indices

log = runlog.start(snakemake.log[0])
experiment = Experiment.from_config(snakemake.wildcards.experiment, snakemake.params.experiment)
attributes = read_attributes(snakemake.input.attributes)
identities = read_identities(snakemake.input.identities)
subsets = experiment_indices(
    attributes,
    experiment,
    int(snakemake.wildcards.seed),
    design=Design.from_config(snakemake.params.design),
    identities=identities,
)
for path in [*snakemake.output.indices, snakemake.output.reference]:
    name = Path(path).stem
    write_index(path, subsets[name])
    log.info("%s: %d images", name, len(subsets[name]))
summary = describe_subsets(subsets, attributes, experiment.attributes, identities)
Path(snakemake.output.summary).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")

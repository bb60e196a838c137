"""Write the index files of every condition for one (experiment, seed)."""

from pathlib import Path

from modedrop import runlog
from modedrop.data.celeba_format import read_attributes
from modedrop.indices import Experiment, build_indices, write_index

log = runlog.start(snakemake.log[0])
experiment = Experiment.from_config(snakemake.wildcards.experiment, snakemake.params.experiment)
subsets = build_indices(
    read_attributes(snakemake.input.attributes), experiment, int(snakemake.wildcards.seed)
)
for path in snakemake.output:
    condition = Path(path).stem
    write_index(path, subsets[condition])
    log.info("%s: %d images", condition, len(subsets[condition]))

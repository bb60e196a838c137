"""Write one seed's held-out reference: a uniform random sample of the whole data set."""

from modedrop import runlog
from modedrop.data.celeba_format import read_attributes
from modedrop.indices import sample_reference, write_index

log = runlog.start(snakemake.log[0])
names = read_attributes(snakemake.input.attributes).index
reference = sample_reference(names, snakemake.params.size, int(snakemake.wildcards.seed))
write_index(snakemake.output[0], reference)
log.info(
    "reference of seed %s: %d of %d images", snakemake.wildcards.seed, len(reference), len(names)
)

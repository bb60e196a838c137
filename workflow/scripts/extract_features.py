"""Embed every image of the data set with one encoder into the HDF5 feature cache."""

from modedrop import runlog
from modedrop.data.celeba_format import read_attributes
from modedrop.extraction import extract_features
from modedrop.extraction_outputs import write_throughput

log = runlog.start(snakemake.log[0])
# The attribute file defines the data set: one cache row per listed image, in file order.
names = list(read_attributes(snakemake.input.attributes).index)
stats = extract_features(
    snakemake.input.images,
    names,
    snakemake.wildcards.encoder,
    snakemake.output.cache,
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
    device=snakemake.params.device,
    weights=snakemake.params.encoder["weights"],
    weights_sha256=snakemake.params.encoder["sha256"],
    allow_download=snakemake.params.allow_download,
    skip_unreadable=snakemake.params.skip_unreadable,
    # Read from the config, not a rule param: the chunk size never changes the cache, and a
    # changed param would make Snakemake re-run the whole extraction.
    chunk_images=snakemake.config["features"]["chunk_images"],
)
log.info("run statistics: %s", stats)

write_throughput(
    snakemake.output.throughput,
    snakemake.wildcards.encoder,
    stats,
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
)

"""Generate the embedded synthetic face data set in CelebA's on-disk format."""

from pathlib import Path

from modedrop import runlog
from modedrop.data.synthfaces import generate

log = runlog.start(snakemake.log[0])
block = snakemake.params.synthfaces
meta = generate(
    Path(snakemake.output.attributes).parent,
    n_images=block["n_images"],
    n_identities=block["n_identities"],
    width=block["width"],
    height=block["height"],
    seed=block["seed"],
    jpeg_quality=block["jpeg_quality"],
    workers=snakemake.threads,
)
log.info("wrote %d images of %d identities", len(meta.attributes), meta.identities.nunique())

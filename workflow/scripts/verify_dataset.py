"""Verify the data set once (official checksums, or internal consistency) and write a manifest."""

import json
from pathlib import Path

from modedrop import runlog
from modedrop.data.celeba import DatasetFiles, verify_celeba, verify_celeba_format

log = runlog.start(snakemake.log[0])
files = DatasetFiles(
    root=Path(snakemake.input.attributes).parent,
    attributes=Path(snakemake.input.attributes),
    partition=Path(snakemake.input.partition),
    identities=Path(snakemake.input.identities),
    images=Path(snakemake.input.images),
)
verify = verify_celeba if snakemake.params.official else verify_celeba_format
manifest = verify(files)
log.info("verified: %s", manifest)
Path(snakemake.output[0]).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))

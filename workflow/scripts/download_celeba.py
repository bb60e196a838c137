"""Download CelebA with torchvision's downloader into data/celeba, then verify it."""

from pathlib import Path

from modedrop import runlog
from modedrop.data.celeba import download_celeba

log = runlog.start(snakemake.log[0])
files = download_celeba(Path(snakemake.output.attributes).parent)
log.info("CelebA downloaded and verified in %s", files.root)

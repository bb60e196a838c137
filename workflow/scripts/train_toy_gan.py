"""Train the toy GAN of one (data set, latent size) for every seed at once, tracking it."""

from modedrop import runlog
from modedrop.gan.toy_run_io import save_run
from modedrop.gan.toy_training import train_toy_gan

log = runlog.start(snakemake.log[0])
toy = dict(snakemake.params.toy)
# The config names the networks in words; the library's settings use short field names.
renamed = {"generator_hidden": "g_hidden", "discriminator_hidden": "d_hidden"}
settings = {renamed.get(key, key): value for key, value in toy.items()}
for study_key in ("datasets", "latent_dims", "seeds"):
    settings.pop(study_key)
run = train_toy_gan(
    snakemake.wildcards.toy, int(snakemake.wildcards.latent), toy["seeds"], **settings
)
save_run(run, snakemake.output.history.rsplit("/", 1)[0])
log.info("trained %s in %.1f s", run.settings, run.elapsed_s)

"""Train one DCGAN (one latent size), tracking NDB/JSD; resumes from its checkpoint."""

from pathlib import Path

from modedrop import runlog
from modedrop.gan.dcgan import train_dcgan
from modedrop.gan.training_set import read_training_set

log = runlog.start(snakemake.log[0])
settings = snakemake.params.dcgan
images, _ = read_training_set(snakemake.input.training_set)
run_dir = Path(snakemake.output.generator).parent
history = train_dcgan(
    images,
    latent_dim=int(snakemake.wildcards.latent),
    steps=settings["steps"],
    batch_size=settings["batch_size"],
    lr=settings["lr"],
    beta1=settings["beta1"],
    width=settings["width"],
    eval_every=settings["eval_every"],
    ndb_bins=settings["ndb"]["bins"],
    ndb_alpha=settings["ndb"]["alpha"],
    ndb_reference=settings["ndb"]["reference"],
    ndb_generated=settings["ndb"]["generated"],
    seed=settings["seed"],
    # Not an output: it survives a failed or killed job, and the next run resumes from it.
    checkpoint=run_dir / "checkpoint.pt",
    checkpoint_every=settings["checkpoint_every"],
    threads=snakemake.threads,
    torchscript=Path(snakemake.output.generator),
    final_samples=Path(snakemake.output.final),
    device=snakemake.params.device,
)
history.to_csv(snakemake.output.history, index=False, float_format="%.6g")
last = history.iloc[-1]
log.info("step %d: NDB/K %.3f, JSD %.4f", last["step"], last["ndb_fraction"], last["jsd"])

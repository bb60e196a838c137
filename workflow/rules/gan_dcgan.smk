# Generative-model study 2 (Mehta, Measuring Mode Collapse in GANs): a DCGAN trained on the data
# set for each latent size, NDB/JSD tracked in pixel space during training; the trained
# generators are exported as TorchScript and scored like any generator (generated.smk).


rule gan_training_set:
    input:
        images=DATA["images"],
        attributes=DATA["attributes"],
        manifest=MANIFEST,
        code=code("gan_training_set.py"),
    output:
        f"{RESULTS}/gan/training_set.h5",
    params:
        resolution=DCGAN["resolution"],
    threads: config["features"]["threads"]
    # The generator chain (train, sample, embed, score, calibrate) is long and mostly serial:
    # started early it runs beside the metric jobs instead of after them.
    priority: 50
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/gan/training_set.log",
    benchmark:
        f"{RESULTS}/benchmarks/gan/training_set.tsv"
    script:
        "../scripts/gan_training_set.py"


# The GPU rule of this study (features.device; see workflow/profiles/slurm). An interrupted job
# resumes from checkpoint.pt, which is deliberately not an output (Snakemake deletes the
# outputs of a failed job).
rule train_dcgan:
    input:
        training_set=f"{RESULTS}/gan/training_set.h5",
        code=code("train_dcgan.py"),
    output:
        generator=f"{RESULTS}/gan/dcgan/z{{latent}}/generator.pt",
        history=f"{RESULTS}/gan/dcgan/z{{latent}}/history.csv",
        final=f"{RESULTS}/gan/dcgan/z{{latent}}/final_samples.npz",
    params:
        dcgan=DCGAN,
        device=config["features"]["device"],
    threads: DCGAN["threads"]
    resources:
        gpu=1,
    priority: 50
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/gan/dcgan_z{{latent}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gan/dcgan_z{{latent}}.tsv"
    script:
        "../scripts/train_dcgan.py"


rule plot_dcgan:
    input:
        histories=dcgan_run_files("history.csv"),
        finals=dcgan_run_files("final_samples.npz"),
        code=code("plot_dcgan.py"),
    output:
        table=f"{RESULTS}/tables/dcgan_ndb.csv",
        curves_png=report(
            f"{RESULTS}/figures/dcgan_ndb_curves.png",
            caption="../report/dcgan.rst",
            category="Generative models",
            subcategory="DCGAN",
        ),
        curves_pdf=f"{RESULTS}/figures/dcgan_ndb_curves.pdf",
        samples_png=report(
            f"{RESULTS}/figures/dcgan_samples.png",
            caption="../report/dcgan.rst",
            category="Generative models",
            subcategory="DCGAN",
        ),
        samples_pdf=f"{RESULTS}/figures/dcgan_samples.pdf",
        largest_png=report(
            f"{RESULTS}/figures/dcgan_largest_bin.png",
            caption="../report/dcgan.rst",
            category="Generative models",
            subcategory="DCGAN",
        ),
        largest_pdf=f"{RESULTS}/figures/dcgan_largest_bin.pdf",
    params:
        latent_dims=DCGAN["latent_dims"],
        alpha=DCGAN["ndb"]["alpha"],
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/gan/plot_dcgan.log",
    benchmark:
        f"{RESULTS}/benchmarks/gan/plot_dcgan.tsv"
    script:
        "../scripts/plot_dcgan.py"


rule gan_dcgan:
    input:
        dcgan_targets(),

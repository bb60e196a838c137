# Generative-model study 1 (Martina-Perez, Addressing mode collapse in GANs): GANs on 2-D toy
# data, swept over the latent size.
# One job per (toy data set, latent size) trains every seed at once (a vectorised ensemble)
# and tracks modes covered, high-quality share, NDB/JSD and RankMe during training.


rule train_toy_gan:
    input:
        code=code("train_toy_gan.py"),
    output:
        history=f"{TOY_RESULTS}/{{toy}}/z{{latent}}/history.csv",
        snapshots=f"{TOY_RESULTS}/{{toy}}/z{{latent}}/snapshots.npz",
        generator=f"{TOY_RESULTS}/{{toy}}/z{{latent}}/generator.pt",
        settings=f"{TOY_RESULTS}/{{toy}}/z{{latent}}/settings.json",
    params:
        toy=TOY,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{TOY_RESULTS}/logs/train/{{toy}}_z{{latent}}.log",
    benchmark:
        f"{TOY_RESULTS}/benchmarks/train/{{toy}}_z{{latent}}.tsv"
    script:
        "../scripts/train_toy_gan.py"


rule aggregate_toy_gan:
    input:
        histories=toy_run_histories,
        code=code("aggregate_toy_gan.py"),
    output:
        summary=f"{TOY_RESULTS}/tables/toy_gan_summary.csv",
        final=f"{TOY_RESULTS}/tables/toy_gan_final.csv",
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{TOY_RESULTS}/logs/aggregate_toy_gan.log",
    benchmark:
        f"{TOY_RESULTS}/benchmarks/aggregate_toy_gan.tsv"
    script:
        "../scripts/aggregate_toy_gan.py"


rule plot_toy_gan:
    input:
        summary=f"{TOY_RESULTS}/tables/toy_gan_summary.csv",
        snapshots=toy_snapshots,
        code=code("plot_toy_gan.py"),
    output:
        snapshots_png=report(
            f"{TOY_RESULTS}/figures/toy_{{toy}}_snapshots.png",
            caption="../report/toy_gan.rst",
            category="Generative models",
            subcategory="Toy 2-D GANs",
        ),
        snapshots_pdf=f"{TOY_RESULTS}/figures/toy_{{toy}}_snapshots.pdf",
        curves_png=report(
            f"{TOY_RESULTS}/figures/toy_{{toy}}_curves.png",
            caption="../report/toy_gan.rst",
            category="Generative models",
            subcategory="Toy 2-D GANs",
        ),
        curves_pdf=f"{TOY_RESULTS}/figures/toy_{{toy}}_curves.pdf",
    params:
        latent_dims=TOY["latent_dims"],
        seed=TOY["seeds"][0],
        alpha=TOY["alpha"],
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{TOY_RESULTS}/logs/plot_toy_gan_{{toy}}.log",
    benchmark:
        f"{TOY_RESULTS}/benchmarks/plot_toy_gan_{{toy}}.tsv"
    script:
        "../scripts/plot_toy_gan.py"


rule gan_toy:
    input:
        toy_targets(),

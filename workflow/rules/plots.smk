# Stage 6 - figures: the seed's Figures 2-5 per (experiment, encoder), and Figure S11.


rule plot_experiment:
    input:
        metrics=f"{RESULTS}/tables/metrics.csv",
        code=[lib("plots.py"), lib("stats.py"), lib("metrics", "__init__.py")],
    output:
        png=report(
            f"{RESULTS}/figures/{{experiment}}_{{encoder}}.png",
            caption="../report/experiment_figure.rst",
            category="Mode-drop experiments",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "encoder": "{encoder}"},
        ),
        pdf=f"{RESULTS}/figures/{{experiment}}_{{encoder}}.pdf",
    params:
        attributes=experiment_attributes,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/figures/{{experiment}}_{{encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{experiment}}_{{encoder}}.tsv"
    script:
        "../scripts/plot_experiment.py"


rule rankme_known_rank:
    input:
        code=[lib("known_rank.py"), lib("metrics", "rankme.py"), lib("plots.py")],
    output:
        table=f"{RESULTS}/tables/rankme_known_rank.csv",
        png=report(
            f"{RESULTS}/figures/rankme_known_rank.png",
            caption="../report/known_rank.rst",
            category="RankMe sanity check",
        ),
        pdf=f"{RESULTS}/figures/rankme_known_rank.pdf",
    params:
        known_rank=config["rankme_known_rank"],
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/rankme_known_rank.log",
    benchmark:
        f"{RESULTS}/benchmarks/rankme_known_rank.tsv"
    script:
        "../scripts/rankme_known_rank.py"


rule plot_dataset_sample:
    input:
        images=DATA["images"],
        attributes=DATA["attributes"],
        manifest=MANIFEST,
        code=[lib("plots.py"), lib("data", "celeba_format.py"), lib("data", "images.py")],
    output:
        png=report(
            f"{RESULTS}/figures/dataset_sample.png",
            caption="../report/dataset_sample.rst",
            category="Data set",
        ),
        pdf=f"{RESULTS}/figures/dataset_sample.pdf",
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/dataset_sample.log",
    benchmark:
        f"{RESULTS}/benchmarks/dataset_sample.tsv"
    script:
        "../scripts/plot_dataset_sample.py"

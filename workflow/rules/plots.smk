# Stage 6 - figures: Haratian (2024)'s Figures 2-5 per (experiment, encoder), and Figure S11 of
# the RankMe paper (Garrido et al. 2023).


rule plot_experiment:
    input:
        metrics=f"{RESULTS}/tables/metrics.csv",
        code=code("plot_experiment.py"),
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


# Haratian (2024)'s Figures 2-5: "<Encoder> + RankMe" and "<Encoder> + IS" (IS on the encoder's
# features, the family inception_score_features) over the unbiased, target and nontarget sets.
rule plot_paper:
    input:
        metrics=f"{RESULTS}/tables/metrics.csv",
        code=code("plot_paper.py"),
    output:
        png=report(
            f"{RESULTS}/figures/paper/{{experiment}}_{{encoder}}.png",
            caption="../report/paper_figure.rst",
            category="Mode-drop experiments",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "encoder": "{encoder}", "figure": "paper"},
        ),
        pdf=f"{RESULTS}/figures/paper/{{experiment}}_{{encoder}}.pdf",
    params:
        attributes=experiment_attributes,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/figures/paper/{{experiment}}_{{encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/paper/{{experiment}}_{{encoder}}.tsv"
    script:
        "../scripts/plot_paper.py"


rule rankme_known_rank:
    input:
        code=code("rankme_known_rank.py"),
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
        code=code("plot_dataset_sample.py"),
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


rule plot_detection:
    input:
        detection=f"{RESULTS}/tables/detection.csv",
        code=code("plot_detection.py"),
    output:
        png=report(
            f"{RESULTS}/figures/detection_heatmap.png",
            caption="../report/detection_heatmap.rst",
            category="Detection",
        ),
        pdf=f"{RESULTS}/figures/detection_heatmap.pdf",
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/figures/detection_heatmap.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/detection_heatmap.tsv"
    script:
        "../scripts/plot_detection.py"


rule plot_response:
    input:
        metrics=f"{RESULTS}/tables/metrics.csv",
        code=code("plot_response.py"),
    output:
        png=report(
            f"{RESULTS}/figures/{{axis}}_response_{{experiment}}.png",
            caption="../report/response_figure.rst",
            category="Dose-response and collapse",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "axis": "{axis}"},
        ),
        pdf=f"{RESULTS}/figures/{{axis}}_response_{{experiment}}.pdf",
    wildcard_constraints:
        axis="dose|collapse",
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/figures/{{axis}}_response_{{experiment}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{axis}}_response_{{experiment}}.tsv"
    script:
        "../scripts/plot_response.py"


rule plot_ndb_bins:
    input:
        result=f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/ndb/seed{FIRST_SEED}.json",
        code=code("plot_ndb_bins.py"),
    output:
        png=report(
            f"{RESULTS}/figures/ndb_bins_{{experiment}}_{{encoder}}.png",
            caption="../report/ndb_bins.rst",
            category="NDB bins",
            labels={"experiment": "{experiment}", "encoder": "{encoder}"},
        ),
        pdf=f"{RESULTS}/figures/ndb_bins_{{experiment}}_{{encoder}}.pdf",
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/figures/ndb_bins_{{experiment}}_{{encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/ndb_bins_{{experiment}}_{{encoder}}.tsv"
    script:
        "../scripts/plot_ndb_bins.py"


rule plot_duplicate_pairs:
    input:
        result=f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/duplicates/seed{FIRST_SEED}.json",
        images=DATA["images"],
        manifest=MANIFEST,
        code=code("plot_duplicate_pairs.py"),
    output:
        png=report(
            f"{RESULTS}/figures/duplicate_pairs_{{experiment}}_{{encoder}}.png",
            caption="../report/duplicate_pairs.rst",
            category="Near-duplicate pairs",
            labels={"experiment": "{experiment}", "encoder": "{encoder}"},
        ),
        pdf=f"{RESULTS}/figures/duplicate_pairs_{{experiment}}_{{encoder}}.pdf",
    params:
        condition=duplicates_figure_condition(),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/figures/duplicate_pairs_{{experiment}}_{{encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/duplicate_pairs_{{experiment}}_{{encoder}}.tsv"
    script:
        "../scripts/plot_duplicate_pairs.py"


# The main protocol alone (Haratian (2024)'s protocol and the metric battery):
# `snakemake --cores all mode_drop`.
rule mode_drop:
    input:
        mode_drop_targets(),

# Which attributes does a sample set lack? Probes on the shared feature cache (one job per
# encoder), then one job per (experiment, seed) for the study's conditions (the validation on
# planted drops) and one per generator, then the tables and one figure per sample set.


rule attribute_probes:
    input:
        features=feature_cache,
        attributes=DATA["attributes"],
        partition=DATA["partition"],
        identities=DATA["identities"],
        code=code("attribute_probes.py"),
    output:
        probes=f"{RESULTS}/attribution/{{encoder}}/probes.npz",
        probabilities=f"{RESULTS}/attribution/{{encoder}}/dataset_probabilities.npz",
        table=f"{RESULTS}/attribution/{{encoder}}/probes.csv",
    params:
        attributes=PROBE_ATTRIBUTES,
        settings=ATTRIBUTION_SETTINGS,
    # scikit-learn's lbfgs fits one probe on one core: the other cores stay with the metrics.
    threads: 1
    # One long single-threaded fit that every attribution job waits for: start it as soon as the
    # cache exists, beside the metric jobs, not after them.
    priority: 90
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/attribution/{{encoder}}_probes.log",
    benchmark:
        f"{RESULTS}/benchmarks/attribution/{{encoder}}_probes.tsv"
    script:
        "../scripts/attribute_probes.py"


rule attribute_conditions:
    input:
        probabilities=f"{RESULTS}/attribution/{{encoder}}/dataset_probabilities.npz",
        probes_table=f"{RESULTS}/attribution/{{encoder}}/probes.csv",
        indices=condition_indices,
        reference=reference_index,
        code=code("attribute_conditions.py"),
    output:
        f"{RESULTS}/attribution/{{encoder}}/{{experiment}}/seed{{seed}}.csv",
    params:
        targets=experiment_attributes,
        settings=ATTRIBUTION_SETTINGS,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/attribution/{{encoder}}_{{experiment}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/attribution/{{encoder}}_{{experiment}}_seed{{seed}}.tsv"
    script:
        "../scripts/attribute_conditions.py"


rule attribute_sample_set:
    input:
        features=f"{RESULTS}/generated/{{generator}}/{{encoder}}.h5",
        probes=f"{RESULTS}/attribution/{{encoder}}/probes.npz",
        probabilities=f"{RESULTS}/attribution/{{encoder}}/dataset_probabilities.npz",
        probes_table=f"{RESULTS}/attribution/{{encoder}}/probes.csv",
        code=code("attribute_sample_set.py"),
    output:
        f"{RESULTS}/attribution/{{encoder}}/generated/{{generator}}.csv",
    params:
        groups=ATTRIBUTION_GROUPS,
        settings=ATTRIBUTION_SETTINGS,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/attribution/{{encoder}}_{{generator}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/attribution/{{encoder}}_{{generator}}.tsv"
    script:
        "../scripts/attribute_sample_set.py"


rule attribution_tables:
    input:
        probes=expand(f"{RESULTS}/attribution/{{encoder}}/probes.csv", encoder=ATTRIBUTION_ENCODERS),
        conditions=expand(
            f"{RESULTS}/attribution/{{encoder}}/{{experiment}}/seed{{seed}}.csv",
            encoder=ATTRIBUTION_ENCODERS,
            experiment=EXPERIMENTS,
            seed=config["seeds"],
        ),
        generators=expand(
            f"{RESULTS}/attribution/{{encoder}}/generated/{{generator}}.csv",
            encoder=ATTRIBUTION_ENCODERS,
            generator=ATTRIBUTED_GENERATORS,
        ),
        code=code("attribution_tables.py"),
    output:
        probes=f"{RESULTS}/tables/attribute_probes.csv",
        attribution=f"{RESULTS}/tables/attribution.csv",
        validation=report(
            f"{RESULTS}/tables/attribution_validation.csv",
            caption="../report/attribution_validation.rst",
            category="Tables",
        ),
    params:
        targets=ATTRIBUTION_GROUPS,
        alpha=ATTRIBUTION["alpha"],
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/attribution/tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/attribution/tables.tsv"
    script:
        "../scripts/attribution_tables.py"


# One figure per sample set: a generator's, and every condition of the first seed.


rule plot_attribution_generator:
    input:
        f"{RESULTS}/attribution/{{encoder}}/generated/{{generator}}.csv",
        code=code("plot_attribution.py"),
    output:
        png=report(
            f"{RESULTS}/figures/attribution/generated/{{generator}}_{{encoder}}.png",
            caption="../report/attribution_figure.rst",
            category="Attribution",
        ),
        pdf=f"{RESULTS}/figures/attribution/generated/{{generator}}_{{encoder}}.pdf",
    params:
        conditions=None,
        title=lambda wildcards: f"{wildcards.generator} ({wildcards.encoder}) against the data set",
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/attribution/plot_{{generator}}_{{encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/attribution/plot_{{generator}}_{{encoder}}.tsv"
    script:
        "../scripts/plot_attribution.py"


# The condition figures of one experiment in one job: each figure costs far less than a job's
# start (interpreter, matplotlib), and the conditions share their table.
use rule plot_attribution_generator as plot_attribution_conditions with:
    input:
        f"{RESULTS}/attribution/{{encoder}}/{{experiment}}/seed{FIRST_SEED}.csv",
        code=code("plot_attribution.py"),
    output:
        png=[
            report(
                f"{RESULTS}/figures/attribution/conditions/{{experiment}}_{condition}_{{encoder}}.png",
                caption="../report/attribution_figure.rst",
                category="Attribution",
            )
            for condition in CONDITIONS
        ],
        pdf=[
            f"{RESULTS}/figures/attribution/conditions/{{experiment}}_{condition}_{{encoder}}.pdf"
            for condition in CONDITIONS
        ],
    params:
        conditions=CONDITIONS,
        title=lambda wildcards: (
            f"{wildcards.experiment} {{condition}}, seed {FIRST_SEED} "
            f"({wildcards.encoder}) against its reference"
        ),
    log:
        f"{RESULTS}/logs/attribution/plot_{{experiment}}_{{encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/attribution/plot_{{experiment}}_{{encoder}}.tsv"


rule attribution:
    input:
        attribution_targets(),

# Stage 2 - index files: which images form each condition's subset, per experiment and seed,
# and each seed's held-out reference (never part of an evaluated subset of that seed).


rule build_reference:
    input:
        attributes=DATA["attributes"],
        manifest=MANIFEST,
        code=code("build_reference.py"),
    output:
        f"{RESULTS}/indices/reference/seed{{seed}}.txt",
    params:
        size=config["reference"]["size"],
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/indices/reference_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/indices/reference_seed{{seed}}.tsv"
    script:
        "../scripts/build_reference.py"


rule build_indices:
    input:
        attributes=DATA["attributes"],
        identities=DATA["identities"],
        manifest=MANIFEST,
        reference=reference_index,
        code=code("build_indices.py"),
    output:
        indices=expand(
            f"{RESULTS}/indices/{{{{experiment}}}}/seed{{{{seed}}}}/{{condition}}.txt",
            condition=CONDITIONS,
        ),
        summary=f"{RESULTS}/indices/{{experiment}}/seed{{seed}}/conditions.json",
    params:
        experiment=experiment_params,
        design=design_params,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/indices/{{experiment}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/indices/{{experiment}}_seed{{seed}}.tsv"
    script:
        "../scripts/build_indices.py"

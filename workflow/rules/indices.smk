# Stage 2 - index files: which images form each condition's subset, per experiment and seed.


rule build_indices:
    input:
        attributes=DATA["attributes"],
        manifest=MANIFEST,
        code=[lib("indices.py"), lib("data", "celeba_format.py")],
    output:
        expand(
            f"{RESULTS}/indices/{{{{experiment}}}}/seed{{{{seed}}}}/{{condition}}.txt",
            condition=CONDITIONS,
        ),
    params:
        experiment=experiment_params,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/indices/{{experiment}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/indices/{{experiment}}_seed{{seed}}.tsv"
    script:
        "../scripts/build_indices.py"

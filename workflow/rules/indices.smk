# Stage 2 - index files: per (experiment, seed), the held-out reference of the reference-based
# metrics (drawn first; balanced like the unbiased condition unless reference.distribution is
# natural) and the images of each condition, drawn from the other images.


rule build_indices:
    input:
        attributes=DATA["attributes"],
        identities=DATA["identities"],
        manifest=MANIFEST,
        code=code("build_indices.py"),
    output:
        indices=expand(
            f"{RESULTS}/indices/{{{{experiment}}}}/seed{{{{seed}}}}/{{condition}}.txt",
            condition=CONDITIONS,
        ),
        reference=f"{RESULTS}/indices/{{experiment}}/seed{{seed}}/reference.txt",
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

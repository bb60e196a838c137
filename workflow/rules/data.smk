# Stage 1 - the data set: generated (synthfaces), downloaded (celeba without a local copy) or
# used in place (celeba, celeba_format); then verified once before anything reads it.


# Defined only for the data set that needs them: a rule that could rebuild a user's copy of
# CelebA (after a code edit, say) must not exist.
if DATASET == "synthfaces":

    rule synthfaces:
        input:
            code=code("make_synthfaces.py"),
            stats=library_file("data", "celeba_stats.json"),
        output:
            images=directory(DATA["images"]),
            attributes=DATA["attributes"],
            partition=DATA["partition"],
            identities=DATA["identities"],
        params:
            synthfaces=config["synthfaces"],
        threads: 2
        # Upstream of the feature cache, the study's critical path (priorities are not inherited).
        priority: 100
        conda:
            "../../envs/modedrop.yaml"
        log:
            f"{RESULTS}/logs/synthfaces.log",
        benchmark:
            f"{RESULTS}/benchmarks/synthfaces.tsv"
        script:
            "../scripts/make_synthfaces.py"


if NEEDS_DOWNLOAD:

    rule download_celeba:
        input:
            code=code("download_celeba.py"),
        output:
            images=directory(f"{CELEBA_DOWNLOAD_DIR}/img_align_celeba"),
            attributes=f"{CELEBA_DOWNLOAD_DIR}/list_attr_celeba.txt",
            partition=f"{CELEBA_DOWNLOAD_DIR}/list_eval_partition.txt",
            identities=f"{CELEBA_DOWNLOAD_DIR}/identity_CelebA.txt",
        conda:
            "../../envs/modedrop.yaml"
        log:
            "data/logs/download_celeba.log",
        benchmark:
            "data/benchmarks/download_celeba.tsv"
        script:
            "../scripts/download_celeba.py"


rule verify_dataset:
    input:
        images=DATA["images"],
        attributes=DATA["attributes"],
        partition=DATA["partition"],
        identities=DATA["identities"],
        code=code("verify_dataset.py"),
    output:
        MANIFEST,
    params:
        official=DATASET == "celeba",
    priority: 100
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/verify_dataset.log",
    benchmark:
        f"{RESULTS}/benchmarks/verify_dataset.tsv"
    script:
        "../scripts/verify_dataset.py"

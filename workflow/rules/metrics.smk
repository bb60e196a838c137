# Stage 4 - one job per (metric family, experiment, encoder, seed): it scores every condition
# of the seed (and reads the seed's reference when the metric needs one) from the shared
# feature cache - nothing is re-embedded. Each job gets only its own config block.


# RankMe (Garrido et al. 2023): higher = more diverse.
rule rankme:
    input:
        features=feature_cache,
        indices=condition_indices,
        code=metric_code("rankme"),
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/rankme/seed{{seed}}.json",
    params:
        metric=metric_params(config, "rankme"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/rankme/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/rankme/seed{{seed}}.tsv"
    script:
        "../scripts/rankme.py"


# Inception Score formula on the chosen classifier's logits.
rule inception_score:
    input:
        features=feature_cache,
        indices=condition_indices,
        code=metric_code("inception_score"),
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/inception_score/seed{{seed}}.json",
    params:
        metric=metric_params(config, "inception_score"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/inception_score/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/inception_score/seed{{seed}}.tsv"
    script:
        "../scripts/inception_score.py"


# Fréchet distance (FID on inception_v3) and kernel distance (KID) to the reference.
rule fd_kd:
    input:
        features=feature_cache,
        indices=condition_indices,
        reference=reference_index,
        code=metric_code("fd_kd", "frechet.py", "kid.py"),
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/fd_kd/seed{{seed}}.json",
    params:
        metric=metric_params(config, "fd_kd"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/fd_kd/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/fd_kd/seed{{seed}}.tsv"
    script:
        "../scripts/fd_kd.py"


# Precision, recall, density, coverage and improved precision/recall against the reference.
rule prdc:
    input:
        features=feature_cache,
        indices=condition_indices,
        reference=reference_index,
        code=metric_code("prdc"),
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/prdc/seed{{seed}}.json",
    params:
        metric=metric_params(config, "prdc"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/prdc/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/prdc/seed{{seed}}.tsv"
    script:
        "../scripts/prdc.py"


# Vendi score (q = 1, cosine kernel).
rule vendi:
    input:
        features=feature_cache,
        indices=condition_indices,
        code=metric_code("vendi"),
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/vendi/seed{{seed}}.json",
    params:
        metric=metric_params(config, "vendi"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/vendi/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/vendi/seed{{seed}}.tsv"
    script:
        "../scripts/vendi.py"


# NDB/K and JSD over k-means bins of the reference (Richardson & Weiss 2018).
rule ndb:
    input:
        features=feature_cache,
        indices=condition_indices,
        reference=reference_index,
        code=[*metric_code("ndb"), lib("stats.py")],
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/ndb/seed{{seed}}.json",
    params:
        metric=metric_params(config, "ndb"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/ndb/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/ndb/seed{{seed}}.tsv"
    script:
        "../scripts/ndb.py"


# MCCS on identity descriptor features (seed 004); theta and r calibrated on the reference.
rule mccs:
    input:
        features=feature_cache,
        indices=condition_indices,
        reference=reference_index,
        identities=DATA["identities"],
        code=metric_code("mccs"),
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/mccs/seed{{seed}}.json",
    params:
        metric=metric_params(config, "mccs"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/mccs/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/mccs/seed{{seed}}.tsv"
    script:
        "../scripts/mccs.py"


# Classifier two-sample tests (logistic regression, k-NN) against the reference.
rule c2st:
    input:
        features=feature_cache,
        indices=condition_indices,
        reference=reference_index,
        code=metric_code("c2st"),
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/c2st/seed{{seed}}.json",
    params:
        metric=metric_params(config, "c2st"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/c2st/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/c2st/seed{{seed}}.tsv"
    script:
        "../scripts/c2st.py"


# Mean MS-SSIM over random image pairs (pixel space; encoder 'pixels').
rule ms_ssim:
    input:
        images=DATA["images"],
        manifest=MANIFEST,
        indices=condition_indices,
        code=[*metric_code("ms_ssim"), lib("data", "images.py")],
    output:
        f"{RESULTS}/metrics/{{experiment}}/pixels/ms_ssim/seed{{seed}}.json",
    params:
        metric=metric_params(config, "ms_ssim"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/pixels/ms_ssim/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/pixels/ms_ssim/seed{{seed}}.tsv"
    script:
        "../scripts/ms_ssim.py"


# Birthday-paradox near-duplicates; the threshold is calibrated on the reference.
rule duplicates:
    input:
        features=feature_cache,
        indices=condition_indices,
        reference=reference_index,
        code=metric_code("duplicates"),
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/duplicates/seed{{seed}}.json",
    params:
        metric=metric_params(config, "duplicates"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/duplicates/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/duplicates/seed{{seed}}.tsv"
    script:
        "../scripts/duplicates.py"

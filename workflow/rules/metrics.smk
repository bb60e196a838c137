# Stage 4 - one job per (metric, experiment, encoder, seed, condition), reading only the cache.


rule rankme:
    input:
        features=feature_cache,
        index=index_file,
        code=[lib("metrics", "rankme.py"), lib("features.py"), lib("records.py")],
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/rankme/seed{{seed}}_{{condition}}.json",
    params:
        rankme=metric_params(config, "rankme"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/rankme/seed{{seed}}_{{condition}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/rankme/seed{{seed}}_{{condition}}.tsv"
    script:
        "../scripts/rankme.py"


rule inception_score:
    input:
        features=feature_cache,
        index=index_file,
        code=[lib("metrics", "inception_score.py"), lib("features.py"), lib("records.py")],
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/inception_score/seed{{seed}}_{{condition}}.json",
    params:
        inception_score=metric_params(config, "inception_score"),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/inception_score/seed{{seed}}_{{condition}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/inception_score/seed{{seed}}_{{condition}}.tsv"
    script:
        "../scripts/inception_score.py"

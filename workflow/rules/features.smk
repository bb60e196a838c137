# Stage 3 - the feature cache: every image embedded once per encoder (never temp()).


rule extract_features:
    input:
        images=DATA["images"],
        attributes=DATA["attributes"],
        manifest=MANIFEST,
        code=code("extract_features.py"),
        weights=configured_weights_input,
    output:
        cache=f"{RESULTS}/features/{{encoder}}.h5",
        # Snakemake's benchmark file has fixed columns: the throughput gets its own table.
        throughput=f"{RESULTS}/benchmarks/features/{{encoder}}_throughput.tsv",
    params:
        batch_size=config["features"]["batch_size"],
        device=config["features"]["device"],
        encoder=encoder_settings,
        allow_download=config["features"]["allow_download"],
        # A param: it decides which rows the cache holds (features.chunk_images does not, so
        # the script reads that one from the config and changing it re-runs nothing).
        skip_unreadable=config["features"]["skip_unreadable"],
    threads: config["features"]["threads"]
    # The longest job and every feature metric waits for it: schedule it before the pixel
    # metrics, which could otherwise fill the cores first.
    priority: 100
    resources:
        gpu=1,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/features/{{encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/features/{{encoder}}.tsv"
    script:
        "../scripts/extract_features.py"

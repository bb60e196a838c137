# Stage 3 - the feature cache: every image embedded once per encoder (never temp()).


rule extract_features:
    input:
        images=dataset_file("img_align_celeba"),
        attributes=dataset_file("list_attr_celeba.txt"),
        code=[
            lib("extraction.py"),
            lib("features.py"),
            lib("data", "images.py"),
            lib("encoders", "base.py"),
            lib("encoders", "timm_wrapper.py"),
            lib("encoders", "{encoder}.py"),
        ],
    output:
        f"{RESULTS}/features/{{encoder}}.h5",
    params:
        batch_size=config["features"]["batch_size"],
        device=config["features"]["device"],
    threads: config["features"]["threads"]
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

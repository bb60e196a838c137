# Sample sets of generators: generated once, embedded once per encoder (the same extraction
# code as the data set's feature cache), then scored with the metric functions of the main
# study against a sample of the training images at the generator's resolution.


rule generate_sample_set:
    wildcard_constraints:
        generator=name_pattern(NETWORK_GENERATORS),
    input:
        generator=generator_files,
        code=code("generate_sample_set.py"),
    output:
        images=f"{RESULTS}/generated/{{generator}}/images.zip",
        latents=f"{RESULTS}/generated/{{generator}}/latents.npy",
        description=f"{RESULTS}/generated/{{generator}}/sample_set.json",
    params:
        spec=generator_params,
        n_images=GENERATED["n_images"],
        seed=GENERATED["seed"],
    priority: 50
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/generated/{{generator}}_images.log",
    benchmark:
        f"{RESULTS}/benchmarks/generated/{{generator}}_images.tsv"
    script:
        "../scripts/generate_sample_set.py"


# A folder (or zip) of the user's samples: packed into a sample set like a generator's (PNG
# images in a zip, named like generated ones), then embedded and scored by the same rules.
rule folder_sample_set:
    wildcard_constraints:
        generator=name_pattern(FOLDER_GENERATORS),
    input:
        images=folder_generator_files,
        code=code("folder_sample_set.py"),
    output:
        images=f"{RESULTS}/generated/{{generator}}/images.zip",
        description=f"{RESULTS}/generated/{{generator}}/sample_set.json",
    params:
        source=folder_generator_params,
    # First among the ready jobs: an unreadable sample fails before any image is embedded.
    priority: 50
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/generated/{{generator}}_images.log",
    benchmark:
        f"{RESULTS}/benchmarks/generated/{{generator}}_images.tsv"
    script:
        "../scripts/folder_sample_set.py"


rule training_sample_set:
    input:
        training_set=f"{RESULTS}/gan/training_set.h5",
        identities=DATA["identities"],
        code=code("training_sample_set.py"),
    output:
        images=f"{RESULTS}/generated/{TRAINING_DATA}/images.zip",
        description=f"{RESULTS}/generated/{TRAINING_DATA}/sample_set.json",
    params:
        n_images=GENERATED["n_images"],
        seed=GENERATED["seed"],
    priority: 50
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/generated/{TRAINING_DATA}_images.log",
    benchmark:
        f"{RESULTS}/benchmarks/generated/{TRAINING_DATA}_images.tsv"
    script:
        "../scripts/training_sample_set.py"


rule embed_sample_set:
    input:
        images=f"{RESULTS}/generated/{{sample_set}}/images.zip",
        description=f"{RESULTS}/generated/{{sample_set}}/sample_set.json",
        code=code("embed_sample_set.py"),
    output:
        cache=f"{RESULTS}/generated/{{sample_set}}/{{gan_encoder}}.h5",
    params:
        batch_size=config["features"]["batch_size"],
        device=config["features"]["device"],
        allow_download=config["features"]["allow_download"],
    threads: config["features"]["threads"]
    resources:
        gpu=1,
    priority: 50
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/generated/{{sample_set}}_{{gan_encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/generated/{{sample_set}}_{{gan_encoder}}.tsv"
    script:
        "../scripts/embed_sample_set.py"


rule score_sample_set:
    input:
        features=f"{RESULTS}/generated/{{generator}}/{{gan_encoder}}.h5",
        reference=f"{RESULTS}/generated/{TRAINING_DATA}/{{gan_encoder}}.h5",
        code=code("score_sample_set.py"),
    output:
        f"{RESULTS}/generated/{{generator}}/scores_{{gan_encoder}}.json",
    params:
        settings={k: GENERATED[k] for k in ("prdc_k", "kid_subset_size", "kid_subsets", "seed")},
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/generated/{{generator}}_scores_{{gan_encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/generated/{{generator}}_scores_{{gan_encoder}}.tsv"
    script:
        "../scripts/score_sample_set.py"


rule generator_scores_table:
    input:
        scores=scored_sets,
        code=code("generator_scores_table.py"),
    output:
        f"{RESULTS}/tables/generator_scores.csv",
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/generated/generator_scores.log",
    benchmark:
        f"{RESULTS}/benchmarks/generated/generator_scores.tsv"
    script:
        "../scripts/generator_scores_table.py"

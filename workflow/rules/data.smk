# Stage 1 - the data set. The embedded default is generated here; real CelebA comes later.


rule synthfaces:
    input:
        code=[lib("data", "synthfaces.py"), lib("data", "celeba_format.py")],
        stats=lib("data", "celeba_stats.json"),
    output:
        images=directory(dataset_file("img_align_celeba")),
        attributes=dataset_file("list_attr_celeba.txt"),
        partition=dataset_file("list_eval_partition.txt"),
        identities=dataset_file("identity_CelebA.txt"),
    params:
        synthfaces=config["synthfaces"],
    threads: 2
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/synthfaces.log",
    benchmark:
        f"{RESULTS}/benchmarks/synthfaces.tsv"
    script:
        "../scripts/make_synthfaces.py"

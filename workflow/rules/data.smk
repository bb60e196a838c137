# Stage 1 - the data set. The embedded default is generated here; real CelebA comes later.


rule synthfaces:
    input:
        code=[lib("data", "synthfaces.py"), lib("data", "celeba_format.py")],
        stats=lib("data", "celeba_stats.json"),
    output:
        images=directory(f"{RESULTS}/data/img_align_celeba"),
        attributes=f"{RESULTS}/data/list_attr_celeba.txt",
        partition=f"{RESULTS}/data/list_eval_partition.txt",
        identities=f"{RESULTS}/data/identity_CelebA.txt",
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

# Stage 5 - aggregation across seeds: the long table, the per-condition summary and the
# detection statistics (does each metric tell each biased condition from the unbiased one?).


rule aggregate:
    input:
        records=all_metric_outputs,
        code=code("aggregate.py"),
    output:
        metrics=report(
            f"{RESULTS}/tables/metrics.csv",
            caption="../report/metrics_table.rst",
            category="Tables",
        ),
        summary=report(
            f"{RESULTS}/tables/summary.csv",
            caption="../report/summary_table.rst",
            category="Tables",
        ),
        detection=report(
            f"{RESULTS}/tables/detection.csv",
            caption="../report/detection_table.rst",
            category="Tables",
        ),
    params:
        alpha=config["detection"]["alpha"],
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate.tsv"
    script:
        "../scripts/aggregate.py"

# Stage 5 - aggregation across seeds: the long table and the per-condition summary.


rule aggregate:
    input:
        records=all_metric_outputs,
        code=[lib("records.py"), lib("stats.py")],
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
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate.tsv"
    script:
        "../scripts/aggregate.py"

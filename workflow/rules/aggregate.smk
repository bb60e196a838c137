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


# The study's answer: the measured null (false-positive rate on the Random-split experiments,
# unbiased vs reference) and which metric output notices a dropped mode.


rule null_calibration:
    input:
        detection=f"{RESULTS}/tables/detection.csv",
        metrics=f"{RESULTS}/tables/metrics.csv",
        code=code("null_calibration.py"),
    output:
        table=report(
            f"{RESULTS}/tables/null_calibration.csv",
            caption="../report/null_calibration_table.rst",
            category="Tables",
        ),
        png=report(
            f"{RESULTS}/figures/null_calibration.png",
            caption="../report/null_calibration_figure.rst",
            category="Headline",
        ),
        pdf=f"{RESULTS}/figures/null_calibration.pdf",
    params:
        experiments={
            name: list(block["attributes"]) for name, block in config["experiments"].items()
        },
        alpha=config["detection"]["alpha"],
        # NDB/K's null expectation is its own per-bin test level.
        ndb_alpha=config["metrics"].get("ndb", {}).get("alpha", config["detection"]["alpha"]),
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/null_calibration.log",
    benchmark:
        f"{RESULTS}/benchmarks/null_calibration.tsv"
    script:
        "../scripts/null_calibration.py"


rule headline:
    input:
        detection=f"{RESULTS}/tables/detection.csv",
        null_calibration=f"{RESULTS}/tables/null_calibration.csv",
        code=code("headline.py"),
    output:
        table=report(
            f"{RESULTS}/tables/headline.csv",
            caption="../report/headline_table.rst",
            category="Tables",
        ),
        png=report(
            f"{RESULTS}/figures/headline.png",
            caption="../report/headline_figure.rst",
            category="Headline",
        ),
        pdf=f"{RESULTS}/figures/headline.pdf",
    params:
        experiments={
            name: list(block["attributes"]) for name, block in config["experiments"].items()
        },
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/headline.log",
    benchmark:
        f"{RESULTS}/benchmarks/headline.tsv"
    script:
        "../scripts/headline.py"

"""Item 5 - scaling: how each stage's time and memory grow with the number of images.

The mode-drop study (every metric family, the default config's structure with its image counts
scaled: data set, subsets and reference alike) runs at several sizes of the embedded data set.
Each job's Snakemake benchmark file gives its wall time (``s``) and peak resident memory
(``max_rss``, MB); a stage is a rule, its time the sum over its jobs and its memory the largest
job's peak. The growth exponent of each stage is the slope of log(time) on log(images).

Writes ``scaling.csv`` (stage x size), ``scaling_jobs.csv`` (every job) and the log-log figure
``scaling.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import Summary, write_csv
from benchmarks.study import (
    new_work_folder,
    only_families,
    scaled_config,
    smoke_config,
    snakemake,
)

#: Fractions of the default study's image counts (8,000 images) and the seeds/experiments kept.
SCALES = {
    "smoke": {"fractions": (160 / 8000, 320 / 8000), "seeds": [1], "experiments": ["drop_male"]},
    "default": {"fractions": (1 / 16, 1 / 8, 1 / 4), "seeds": [1], "experiments": None},
    "full": {"fractions": (1 / 8, 1 / 4, 1 / 2, 1), "seeds": [1], "experiments": None},
}
SMOKE_FAMILIES = ("rankme", "inception_score", "fd_kd")


def study_config(fraction: float, scale: str) -> dict:
    if scale == "smoke":
        return only_families(smoke_config(round(fraction * 8000)), SMOKE_FAMILIES)
    setting = SCALES[scale]
    return scaled_config(fraction, seeds=setting["seeds"], experiments=setting["experiments"])


def stage_of(path: Path) -> str | None:
    """The rule a benchmark file belongs to (None: not a job's benchmark file)."""
    parts = path.parts
    if path.name.endswith("_throughput.tsv"):
        return None  # the extraction's images/s record, not a job benchmark
    if parts[0] == "metrics":
        return parts[-2]  # metrics/<experiment>/<encoder>/<family>/seed<k>.tsv
    if parts[0] == "features":
        return "extract_features"
    if parts[0] == "indices":
        return "build_indices"
    if parts[0] == "figures" or path.stem.startswith("plot"):
        return "figures"
    return path.stem


def job_benchmarks(results: Path) -> pd.DataFrame:
    """One row per job: stage, wall seconds, peak RSS (MB) from Snakemake's benchmark files."""
    rows = []
    root = results / "benchmarks"
    for path in sorted(root.rglob("*.tsv")):
        relative = path.relative_to(root)
        stage = stage_of(relative)
        if stage is None:
            continue
        record = pd.read_csv(path, sep="\t").iloc[0]
        rows.append(
            {
                "stage": stage,
                "job": str(relative.with_suffix("")),
                "seconds": float(record["s"]),
                "max_rss_mb": float(record["max_rss"]),
            }
        )
    if not rows:
        raise RuntimeError(f"no benchmark files under {root}")
    return pd.DataFrame(rows)


def targets(config: dict) -> list[str]:
    """The tables of the mode-drop study (figures are left out: they do not scale with images)."""
    return [f"results/{config['dataset']}/tables/{name}.csv" for name in ("metrics", "summary")]


def growth_exponent(sizes: np.ndarray, values: np.ndarray) -> float:
    """Slope of the least-squares line through (log size, log value)."""
    sizes, values = np.asarray(sizes, float), np.asarray(values, float)
    keep = values > 0
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(sizes[keep]), np.log(values[keep]), 1)[0])


def plot(stages: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    # 16-odd stages: tab20 colours and cycling markers keep every line distinguishable.
    colours = plt.get_cmap("tab20").colors
    markers = "osD^vP*Xh<>"
    for i, (stage, group) in enumerate(stages.groupby("stage")):
        group = group.sort_values("images")
        style = {"marker": markers[i % len(markers)], "color": colours[i % len(colours)]}
        axes[0].plot(group["images"], group["seconds"], label=stage, **style)
        axes[1].plot(group["images"], group["max_rss_mb"], label=stage, **style)
    for axis, label in zip(
        axes, ("wall time per stage (s, summed over jobs)", "peak RSS (MB)"), strict=True
    ):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("images in the data set")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2, loc="upper left")
    fig.suptitle("Mode-drop study: stage time and memory against data-set size (log-log)")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def run(out: Path, scale: str) -> list[Summary]:
    log = out / "scaling_snakemake.log"
    log.unlink(missing_ok=True)
    jobs = []
    for fraction in SCALES[scale]["fractions"]:
        config = study_config(fraction, scale)
        images = int(config["synthfaces"]["n_images"])
        work = new_work_folder(out / "scaling_work" / f"n{images}", config)
        seconds = snakemake(work, *targets(config), log=log)
        print(f"scaling: {images} images, whole run {seconds:.1f} s", flush=True)
        table = job_benchmarks(work / "results" / config["dataset"])
        table.insert(0, "images", images)
        jobs.append(table)
    jobs = pd.concat(jobs, ignore_index=True)
    write_csv(jobs.to_dict("records"), out / "scaling_jobs.csv")
    stages = (
        jobs.groupby(["stage", "images"])
        .agg(jobs=("job", "size"), seconds=("seconds", "sum"), max_rss_mb=("max_rss_mb", "max"))
        .reset_index()
    )
    exponents = {
        stage: (
            growth_exponent(group["images"], group["seconds"]),
            growth_exponent(group["images"], group["max_rss_mb"]),
        )
        for stage, group in stages.groupby("stage")
    }
    stages["time_exponent"] = stages["stage"].map(lambda s: exponents[s][0])
    stages["memory_exponent"] = stages["stage"].map(lambda s: exponents[s][1])
    write_csv(stages.to_dict("records"), out / "scaling.csv")
    plot(stages, out / "scaling.png")
    sizes = sorted(stages["images"].unique())
    largest = stages[stages["images"] == sizes[-1]].sort_values("seconds", ascending=False)
    costliest = ", ".join(
        f"{row.stage} {row.seconds:.0f} s (x^{exponents[row.stage][0]:.2f})"
        for row in largest.head(3).itertuples()
    )
    total = stages.groupby("images")["seconds"].sum()
    return [
        Summary(
            item="5 scaling",
            case=f"{', '.join(f'{n:,}' for n in sizes)} images, every stage",
            ours="mode-drop study, summed job time",
            baseline="",
            ours_s=float(total.iloc[-1]),
            baseline_s=None,
            goal="log-log figure, 3 sizes",
            met=len(sizes) >= 3 if scale != "smoke" else None,
            note=(
                f"total job time grows as images^{growth_exponent(total.index, total.values):.2f};"
                f" costliest at {sizes[-1]:,}: {costliest}"
            ),
        )
    ]

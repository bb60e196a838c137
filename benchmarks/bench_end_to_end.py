"""Item 1 - end to end: the study's pipeline against a naive pipeline on the same data.

Both sides compute the two metrics of Haratian (2024), *RankMe for Detecting Mode-Drop in
Generative AI* (RankMe and the Inception Score on EfficientNet-Lite0, the default study's
encoder) for every (experiment, seed, condition) of the default protocol, from the same images
and the same index files, on the same machine, back to back, and aggregate them across seeds.

- **ours**: ``snakemake --cores <all>`` on the tables of a workflow configured like the default
  study, restricted to those two metrics: one feature cache (every image embedded once, features
  and logits from one forward pass), one job per (metric, experiment, seed) reading the cache,
  RankMe from the streamed Gram matrix, aggregation. Snakemake's own start-up and every job's
  interpreter start are part of the time.
- **naive**: Haratian's own way, written for this comparison in one Python process: each subset
  embedded separately (images decoded in the main process, one batch after another), RankMe by
  ``torch.linalg.svdvals`` of the subset's feature matrix, the Inception Score from a second,
  fresh forward pass over the subset, then the same mean/sd per condition. It uses the same
  model preparation (eval mode, ``channels_last``, ``torch.inference_mode``) and threads as the
  pipeline, so the comparison measures the design (embed once vs per subset and metric), not
  per-image tuning - that is item 4's comparison.

The data set, the index files and the encoder's weights are made before either side is timed.
The values must agree (same images, same model): the largest relative difference is reported.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import Summary, ratio_stats, spread, write_csv
from benchmarks.study import (
    ENCODER,
    new_work_folder,
    only_families,
    scaled_config,
    smoke_config,
    snakemake,
)

METRICS = ("rankme", "inception_score")

#: The default study's structure (3 experiments x 5 seeds x 8 conditions) at a fraction of its
#: image counts. "default" is 1/16 of the embedded data set so that the naive side, which embeds
#: ~30x as many images, fits in minutes on 2 cores; "full" is the default study itself.
#: The naive side runs once (about 9 minutes at "default"), the pipeline ``ours_repeats`` times.
SCALES = {
    "smoke": {"fraction": None, "ours_repeats": 1},
    "default": {"fraction": 1 / 16, "ours_repeats": 3},
    "full": {"fraction": 1.0, "ours_repeats": 2},
}


def bench_config(scale: str) -> dict:
    """The default study restricted to RankMe + IS, scaled down (smoke: 1 experiment, 1 seed)."""
    fraction = SCALES[scale]["fraction"]
    config = smoke_config(160) if fraction is None else scaled_config(fraction)
    return only_families(config, METRICS)


def prepare(work: Path, config: dict, log: Path) -> None:
    """Untimed: the data set and every index file (both sides read them)."""
    new_work_folder(work, config)
    snakemake(work, "--until", "build_indices", log=log)


def metric_targets(config: dict) -> list[str]:
    """The two families' result files of every (experiment, seed).

    The workflow runs every metric family it has a block for (the schema fills in all of
    them), so the timed run asks for these files and aggregates them with the library
    functions the ``aggregate`` rule calls, in the benchmark's process.
    """
    return [
        f"results/{config['dataset']}/metrics/{experiment}/{ENCODER}/{metric}/seed{seed}.json"
        for metric in METRICS
        for experiment in config["experiments"]
        for seed in config["seeds"]
    ]


def run_ours(work: Path, config: dict, log: Path) -> tuple[float, pd.DataFrame]:
    """Timed: features, the metric jobs and the aggregation, from a state with no features."""
    from modedrop.metrics import worse
    from modedrop.records import read_records
    from modedrop.stats import detection_table, summarize

    results = work / "results" / config["dataset"]
    for folder in ("features", "metrics", "tables"):
        shutil.rmtree(results / folder, ignore_errors=True)
    targets = metric_targets(config)
    start = time.perf_counter()
    snakemake(work, *targets, log=log)
    table = read_records([work / target for target in targets])
    summarize(table).to_csv(work / "ours_summary.csv", index=False)
    detection_table(table, worse(), alpha=config["detection"]["alpha"])
    return time.perf_counter() - start, table


def condition_files(results: Path, config: dict) -> list[tuple[str, int, str, Path]]:
    """(experiment, seed, condition, index file) of every evaluated subset."""
    from modedrop.design import Design

    conditions = Design.from_config(config).conditions
    return [
        (
            experiment,
            seed,
            condition,
            results / "indices" / experiment / f"seed{seed}" / f"{condition}.txt",
        )
        for experiment in config["experiments"]
        for seed in config["seeds"]
        for condition in conditions
    ]


class NaivePipeline:
    """Haratian's way: per subset, embed for RankMe (full SVD), embed again for the IS."""

    def __init__(self, images: Path, config: dict):
        import torch

        from modedrop.encoders import get_encoder
        from modedrop.encoders.weights import locate_weights

        self.images = images
        self.batch_size = int(config["features"]["batch_size"])
        self.threads = int(config["features"]["threads"])
        self.spec = get_encoder(ENCODER)
        torch.set_num_threads(self.threads)
        weights = locate_weights(self.spec, configured=None, allow_download=False)
        self.model = self.spec.build(weights).eval().to(memory_format=torch.channels_last)
        self.is_params = config["metrics"]["inception_score"]
        self.rankme_params = config["metrics"]["rankme"]
        self.embedded = 0  # images passed through the model, both passes counted

    def forward(self, names: list[str], output: int) -> np.ndarray:
        """One pass over ``names``: output 0 = features, 1 = logits."""
        import torch

        from modedrop.data.images import ImageList

        images = ImageList(self.images, names, self.spec.preprocessing)
        self.embedded += len(names)
        rows = []
        with torch.inference_mode():
            for start in range(0, len(names), self.batch_size):
                batch = torch.stack(
                    [images[i] for i in range(start, min(start + self.batch_size, len(names)))]
                )
                batch = batch.contiguous(memory_format=torch.channels_last)
                rows.append(self.model(batch)[output].float().numpy())
        return np.concatenate(rows)

    def rankme(self, features: np.ndarray) -> float:
        import torch

        sigma = torch.linalg.svdvals(torch.from_numpy(features)).double().numpy()
        eps = self.rankme_params["epsilon"]
        eps = float(np.finfo(np.float32).eps) if eps is None else float(eps)
        p = sigma / sigma.sum() + eps
        return float(np.exp(-(p * np.log(p)).sum()))

    def inception_score(self, logits: np.ndarray) -> float:
        from modedrop.metrics.inception_score import inception_score

        params = self.is_params
        result = inception_score(
            logits, splits=params["splits"], shuffle=params["shuffle"], rng_seed=params["rng_seed"]
        )
        return result.mean

    def run(self, subsets: list[tuple[str, int, str, Path]]) -> pd.DataFrame:
        from modedrop.indices import read_index

        rows = []
        for experiment, seed, condition, index in subsets:
            names = read_index(index)
            value = self.rankme(self.forward(names, 0))
            rows.append((experiment, seed, condition, "rankme", value))
            value = self.inception_score(self.forward(names, 1))
            rows.append((experiment, seed, condition, "inception_score", value))
        return pd.DataFrame(rows, columns=["experiment", "seed", "condition", "metric", "value"])


def aggregate(long: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and n over seeds per (experiment, metric, condition), as the pipeline's table."""
    return long.groupby(["experiment", "metric", "condition"])["value"].agg(
        ["mean", "std", "count"]
    )


def run_naive(work: Path, config: dict) -> tuple[float, pd.DataFrame, int]:
    """Timed: model loading, every subset's two passes and metrics, the aggregation."""
    results = work / "results" / config["dataset"]
    subsets = condition_files(results, config)
    start = time.perf_counter()
    naive = NaivePipeline(results / "data" / "img_align_celeba", config)
    long = naive.run(subsets)
    aggregate(long).to_csv(work / "naive_summary.csv")
    return time.perf_counter() - start, long, naive.embedded


def agreement(ours: pd.DataFrame, naive: pd.DataFrame) -> float:
    """Largest relative difference between the pipeline's metric values and the naive ones."""
    keys = ["experiment", "seed", "condition", "metric"]
    joined = ours[keys + ["value"]].merge(naive, on=keys, suffixes=("_ours", "_naive"))
    if len(joined) != len(naive):
        raise RuntimeError(f"the naive pipeline's {len(naive)} values match {len(joined)} of ours")
    diff = (joined["value_ours"] - joined["value_naive"]).abs() / joined["value_naive"].abs()
    return float(diff.max())


def run(out: Path, scale: str) -> list[Summary]:
    """The naive pipeline once (the long side), the pipeline before and after it.

    The speed-up of each pipeline run is the naive time over its time (min/median/max over the
    pipeline's repeats); every pipeline run is checked against the naive values.
    """
    config = bench_config(scale)
    work = out / "end_to_end_work"
    log = out / "end_to_end_snakemake.log"
    log.unlink(missing_ok=True)
    print(f"end to end: preparing the data set and index files in {work}", flush=True)
    prepare(work, config, log)
    dataset_images = int(config["synthfaces"]["n_images"])
    repeats = SCALES[scale]["ours_repeats"]
    ours_s, ours_tables = [], []
    naive_s = naive = embedded = None
    for repeat in range(repeats):
        seconds, table = run_ours(work, config, log)
        ours_s.append(seconds)
        ours_tables.append(table)
        print(f"end to end: ours {seconds:.1f} s (repeat {repeat + 1} of {repeats})", flush=True)
        if naive is None:  # back to back with the first pipeline run
            naive_s, naive, embedded = run_naive(work, config)
            print(f"end to end: naive {naive_s:.1f} s ({embedded:,} images embedded)", flush=True)
    subsets = len(naive) // len(METRICS)
    rows = [
        {
            "scale": scale,
            "repeat": repeat,
            "dataset_images": dataset_images,
            "experiments": len(config["experiments"]),
            "seeds": len(config["seeds"]),
            "subsets": subsets,
            "ours_images_embedded": dataset_images,
            "naive_images_embedded": embedded,
            "ours_s": seconds,
            "naive_s": naive_s,
            "speedup": naive_s / seconds,
            "max_rel_diff": agreement(table, naive),
        }
        for repeat, (seconds, table) in enumerate(zip(ours_s, ours_tables, strict=True))
    ]
    write_csv(rows, out / "end_to_end.csv")
    speed = ratio_stats(ours_s, [naive_s] * repeats)
    conditions = subsets // (len(config["experiments"]) * len(config["seeds"]))
    case = (
        f"{dataset_images:,} images, {len(config['experiments'])} experiments x "
        f"{len(config['seeds'])} seeds x {conditions} conditions, RankMe + IS"
    )
    return [
        Summary(
            item="1 end to end",
            case=case,
            ours="Snakemake pipeline (one cache)",
            baseline="naive (embed per subset and metric, SVD)",
            ours_s=spread(ours_s)["median"],
            baseline_s=naive_s,
            speedup=speed,
            agreement=max(row["max_rel_diff"] for row in rows),
            goal=">= 5x less wall time",
            met=speed["median"] >= 5,
            note=(
                f"naive embeds {embedded:,} images, ours {dataset_images:,}; pipeline run "
                f"{repeats} time(s), the naive one once (speed-up range over the pipeline's runs)"
            ),
        )
    ]

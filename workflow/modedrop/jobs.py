"""The metric jobs' plumbing: load one seed's subsets, score them, write one result file.

A metric job (one per metric family, experiment, encoder and seed) reads every condition's
index file of its seed - and the seed's held-out reference when the metric needs one - takes
those rows from the shared feature cache (or decodes the images, for pixel metrics), calls the
family's ``evaluate`` function from :mod:`modedrop.evaluate` and writes the records
(:mod:`modedrop.records`). Every metric rule runs the one script ``workflow/scripts/metric.py``,
a call to :func:`run_metric_job`.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from modedrop import runlog
from modedrop.indices import read_index
from modedrop.metrics import METRICS, PIXELS
from modedrop.records import job_result, write_result

log = logging.getLogger(__name__)

Values = dict[str, dict[str, float]]
Evaluate = Callable[["JobInputs", Mapping], tuple[Values, dict]]


@dataclass
class JobInputs:
    """What a metric sees: per condition its rows (features, logits or lazily decoded images)."""

    names: dict[str, list[str]]
    sets: dict[str, object]
    reference_names: list[str] | None = None
    reference: np.ndarray | None = None
    identities: pd.Series | None = None
    extra: dict = field(default_factory=dict)

    @property
    def conditions(self) -> list[str]:
        return list(self.names)


def index_sets(index_paths: Sequence[str | Path]) -> dict[str, list[str]]:
    """Condition (the index file's stem) -> image names, in the order of the paths."""
    return {Path(path).stem: read_index(path) for path in index_paths}


def load_inputs(
    *,
    kind: str,
    index_paths: Sequence[str | Path],
    cache: str | Path | None = None,
    images: str | Path | None = None,
    reference_path: str | Path | None = None,
    identities_path: str | Path | None = None,
) -> JobInputs:
    """Read a job's subsets: ``kind`` is ``features``, ``logits`` or ``pixels``."""
    names = index_sets(index_paths)
    reference_names = read_index(reference_path) if reference_path else None
    identities = None
    if identities_path:
        from modedrop.data.celeba_format import read_identities

        identities = read_identities(identities_path)
    if kind == "pixels":
        from modedrop.data.images import ImageList

        sets = {c: ImageList(images, n, _unchanged) for c, n in names.items()}
        return JobInputs(names, sets, reference_names, None, identities)

    from modedrop.features import FeatureCache

    with FeatureCache(cache) as store:
        skipped = set(store.skipped)
        names = {c: drop_skipped(n, skipped, c, store.path) for c, n in names.items()}
        if reference_names:
            reference_names = drop_skipped(reference_names, skipped, "reference", store.path)
        read = store.logits if kind == "logits" else store.features
        sets = {c: read(n) for c, n in names.items()}
        reference = read(reference_names) if reference_names else None
    return JobInputs(names, sets, reference_names, reference, identities)


def drop_skipped(names: list[str], skipped: set[str], label: str, cache: Path) -> list[str]:
    """``names`` without the images the cache left out as unreadable (logged when any).

    Such an image has no features (``features.skip_unreadable``); dropping it keeps the job
    running on the rest of its subset, and the result records the subset's actual size.
    """
    if not skipped:
        return names
    kept = [name for name in names if name not in skipped]
    if len(kept) < len(names):
        gone = [name for name in names if name in skipped]
        log.warning(
            "%s: left out %d of %d image(s) that %s skipped as unreadable at extraction: %s",
            label,
            len(gone),
            len(names),
            cache,
            ", ".join(gone[:10]) + (" ..." if len(gone) > 10 else ""),
        )
    return kept


def _unchanged(image):
    return image


def evaluate_function(family: str) -> Evaluate:
    """The ``evaluate`` function of a metric family (:attr:`MetricSpec.module`)."""
    return importlib.import_module(METRICS[family].module).evaluate


def run_metric_job(snakemake) -> None:
    """Everything a metric job does: log, load, evaluate, write (see the module docstring).

    The family is the rule's name; its ``evaluate`` function comes from :attr:`MetricSpec.module`.
    """
    log = runlog.start(snakemake.log[0])
    family = snakemake.rule
    spec = METRICS[family]
    evaluate = evaluate_function(family)
    params = dict(snakemake.params.metric)
    encoder = getattr(snakemake.wildcards, "encoder", PIXELS)
    experiment, seed = snakemake.wildcards.experiment, snakemake.wildcards.seed
    log.info("%s on %s, %s, seed %s: reading the subsets", family, experiment, encoder, seed)
    inputs = load_inputs(
        kind=spec.input,
        index_paths=list(snakemake.input.indices),
        cache=getattr(snakemake.input, "features", None),
        images=getattr(snakemake.input, "images", None),
        reference_path=getattr(snakemake.input, "reference", None),
        identities_path=getattr(snakemake.input, "identities", None),
    )
    # BLAS/OpenMP (and torch) threads as many as the job's Snakemake threads: parallel jobs that
    # each start one thread per core oversubscribe the machine (measured: 4-40x slower C2ST,
    # and MS-SSIM jobs waiting 2.4x their CPU time, under load).
    threads = max(1, int(snakemake.threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    with threadpool_limits(limits=threads):
        values, details = evaluate(inputs, params)
    for condition, outputs in values.items():
        shown = ", ".join(f"{k} = {v:.4g}" for k, v in outputs.items())
        log.info("%s %s: %s", family, condition, shown)
    result = job_result(
        dataset=snakemake.config["dataset"],
        experiment=experiment,
        encoder=encoder,
        seed=int(seed),
        family=family,
        values=values,
        n_images={c: len(n) for c, n in inputs.names.items()},
        params=params,
        details=details,
    )
    write_result(snakemake.output[0], result)


def require_reference(inputs: JobInputs, family: str) -> np.ndarray:
    """The seed's reference rows; a clear error when the rule did not provide them."""
    if inputs.reference is None:
        raise ValueError(f"{family} needs the seed's reference set (input 'reference' of its rule)")
    return inputs.reference

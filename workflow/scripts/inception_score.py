"""Inception Score formula of one subset, from the cached logits of the chosen classifier."""

from modedrop import runlog
from modedrop.features import FeatureCache
from modedrop.indices import read_index
from modedrop.metrics.inception_score import inception_score
from modedrop.records import metric_record, write_record

log = runlog.start(snakemake.log[0])
params = snakemake.params.inception_score
names = read_index(snakemake.input.index)
with FeatureCache(snakemake.input.features) as cache:
    logits = cache.logits(names)
score = inception_score(
    logits, splits=params["splits"], shuffle=params["shuffle"], rng_seed=params["rng_seed"]
)
log.info(
    "IS = %.4f +- %.4f over %d splits of %d images", score.mean, score.std, score.splits, len(names)
)
record = metric_record(
    dataset=snakemake.config["dataset"],
    wildcards=snakemake.wildcards,
    metric="inception_score",
    value=score.mean,
    n_images=len(names),
    std_over_splits=score.std,
    params=params,
)
write_record(snakemake.output[0], record)

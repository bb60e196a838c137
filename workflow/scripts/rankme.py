"""RankMe of one subset, from the feature cache."""

from modedrop import runlog
from modedrop.features import FeatureCache
from modedrop.indices import read_index
from modedrop.metrics.rankme import rankme
from modedrop.records import metric_record, write_record

log = runlog.start(snakemake.log[0])
params = snakemake.params.rankme
names = read_index(snakemake.input.index)
with FeatureCache(snakemake.input.features) as cache:
    features = cache.features(names)
value = rankme(
    features, epsilon=params["epsilon"], center=params["center"], batch_size=params["batch_size"]
)
log.info("RankMe = %.4f on %d x %d features", value, *features.shape)
record = metric_record(
    dataset=snakemake.config["dataset"],
    wildcards=snakemake.wildcards,
    metric="rankme",
    value=value,
    n_images=len(names),
    feature_dim=int(features.shape[1]),
    params=params,
)
write_record(snakemake.output[0], record)

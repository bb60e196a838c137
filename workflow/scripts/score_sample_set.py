"""Score one generator's sample set against the training sample (same encoder)."""

from modedrop import runlog
from modedrop.gan.evaluation import (
    read_all_features,
    reference_scores,
    score_sample_set,
    write_scores,
)

log = runlog.start(snakemake.log[0])
features = read_all_features(snakemake.input.features)
reference = read_all_features(snakemake.input.reference)
scores = score_sample_set(features, reference, **snakemake.params.settings)
record = {
    "generator": snakemake.wildcards.generator,
    "encoder": snakemake.wildcards.gan_encoder,
    **scores,
    **{f"reference_{key}": value for key, value in reference_scores(reference).items()},
}
write_scores(snakemake.output[0], record)
log.info("scores: %s", record)

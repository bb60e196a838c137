# Stage 4 - one job per (metric family, experiment, encoder, seed): it scores every condition
# of the seed (and reads the experiment and seed's reference when the metric needs one) from
# the shared feature cache - nothing is re-embedded. Each job gets only its own config block.
#
# One rule per family of the registry modedrop.metrics.METRICS, named after it (rankme,
# inception_score, inception_score_features, fd_kd, prdc, vendi, ndb, mccs, c2st, ms_ssim,
# duplicates): the registry says what the family reads - features, logits or pixels, the
# reference, the identity table - and the generic script runs the family's
# modedrop.evaluate.<family>.evaluate.


def metric_inputs(spec):
    """Input function of a family's rule: what the registry says the family reads."""

    def inputs(wildcards):
        files = {"indices": condition_indices(wildcards)}
        if spec.input == "pixels":
            files.update(images=DATA["images"], manifest=MANIFEST)
        else:
            files["features"] = feature_cache(wildcards)
        if spec.reference:
            files["reference"] = reference_index(wildcards)
        if spec.identities:
            files["identities"] = DATA["identities"]
        return files

    return inputs


def metric_encoder_pattern(spec):
    """Pixel families run on the pseudo-encoder 'pixels' only; the others on real encoders."""
    return PIXELS if spec.input == "pixels" else "|".join(FEATURE_ENCODERS) or "(?!)"


for family in METRICS:
    spec = METRIC_SPECS[family]

    rule:
        name:
            family
        input:
            unpack(metric_inputs(spec)),
            code=code("metric.py", spec.module),
        output:
            f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/{family}/seed{{seed}}.json",
        params:
            metric=metric_params(config, family),
        wildcard_constraints:
            encoder=metric_encoder_pattern(spec),
        conda:
            "../../envs/modedrop.yaml"
        log:
            f"{RESULTS}/logs/metrics/{{experiment}}/{{encoder}}/{family}/seed{{seed}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/metrics/{{experiment}}/{{encoder}}/{family}/seed{{seed}}.tsv"
        script:
            "../scripts/metric.py"

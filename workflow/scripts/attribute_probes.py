"""Fit the attribute probes of one encoder on the data set's feature cache; store every image's
held-out probabilities and the probes' quality on the test partition."""

from modedrop import runlog
from modedrop.dataset_probes import fit_dataset_probes

log = runlog.start(snakemake.log[0])
probes, predictions, quality = fit_dataset_probes(
    snakemake.input.features,
    snakemake.input.attributes,
    snakemake.input.partition,
    snakemake.input.identities,
    snakemake.params.attributes,
    snakemake.params.settings,
)
probes.save(snakemake.output.probes)
predictions.save(snakemake.output.probabilities)
quality.insert(0, "encoder", snakemake.wildcards.encoder)
quality.to_csv(snakemake.output.table, index=False)
log.info(
    "%d probes, %d measurable (test AUROC >= %s)",
    len(quality),
    int(quality["measurable"].sum()),
    snakemake.params.settings["min_auroc"],
)

"""Figure for one (experiment, encoder): one panel per metric, one point per condition."""

import pandas as pd

from modedrop import runlog
from modedrop.metrics import METRICS
from modedrop.plots import plot_metric_panels

runlog.start(snakemake.log[0])
plot_metric_panels(
    pd.read_csv(snakemake.input.metrics),
    experiment=snakemake.wildcards.experiment,
    encoder=snakemake.wildcards.encoder,
    attributes=snakemake.params.attributes,
    metric_labels={name: spec.label for name, spec in METRICS.items()},
    png_path=snakemake.output.png,
    pdf_path=snakemake.output.pdf,
)

"""NDB/JSD curves, final sample grids and largest-bin images of the DCGAN runs."""

import pandas as pd

from modedrop import runlog
from modedrop.gan.dcgan_plots import plot_largest_bin, plot_ndb_curves, plot_sample_grids
from modedrop.gan.dcgan_samples import read_final_samples

runlog.start(snakemake.log[0])
labels = [f"z = {latent}" for latent in snakemake.params.latent_dims]
histories = {
    label: pd.read_csv(path) for label, path in zip(labels, snakemake.input.histories, strict=True)
}
finals = {
    label: read_final_samples(path)
    for label, path in zip(labels, snakemake.input.finals, strict=True)
}

table = pd.concat(
    [
        frame.assign(latent_dim=z)
        for z, frame in zip(snakemake.params.latent_dims, histories.values(), strict=True)
    ],
    ignore_index=True,
)
table.to_csv(snakemake.output.table, index=False, float_format="%.6g")
plot_ndb_curves(
    histories,
    snakemake.output.curves_png,
    snakemake.output.curves_pdf,
    alpha=snakemake.params.alpha,
)
plot_sample_grids(
    {label: final.images for label, final in finals.items()},
    snakemake.output.samples_png,
    snakemake.output.samples_pdf,
)
plot_largest_bin(finals, snakemake.output.largest_png, snakemake.output.largest_pdf)

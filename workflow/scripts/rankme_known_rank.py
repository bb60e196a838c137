"""RankMe of matrices of known rank against the number of samples (RankMe paper, Fig. S11)."""

from modedrop import runlog
from modedrop.known_rank import known_rank_study
from modedrop.plots import plot_known_rank

log = runlog.start(snakemake.log[0])
params = snakemake.params.known_rank
table = known_rank_study(
    ranks=params["ranks"],
    dim=params["dim"],
    n_samples=params["n_samples"],
    repeats=params["repeats"],
    seed=params["seed"],
)
table.to_csv(snakemake.output.table, index=False)
plot_known_rank(table, snakemake.output.png, snakemake.output.pdf)
log.info("%d RankMe values", len(table))

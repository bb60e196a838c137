"""One module per metric family, each with an ``evaluate`` function: a seed's subsets in, per-condition numbers out.

Each function takes the job's :class:`~modedrop.jobs.JobInputs` (every condition's rows and,
for reference-based metrics, the seed's held-out reference) and the family's config block, and
returns ``(values, details)``: ``values[condition][output]`` are the numbers of the study's
tables (outputs as declared in :data:`modedrop.metrics.METRICS`), ``details[condition]`` what
a figure or a reader may want besides (bin proportions, most similar pairs, thresholds).

Reference-based metrics precompute the reference's part once per job (k-means bins, the
reference's covariance square root, kernel matrix and k-NN radii) and reuse it for every
condition. The metric formulas themselves live in :mod:`modedrop.metrics`.
"""

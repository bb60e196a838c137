"""Heatmap of Hedges' g for every metric and biased condition, detections marked."""

from modedrop import runlog
from modedrop.figures import detection_heatmap

runlog.start(snakemake.log[0])
detection_heatmap(snakemake.input.detection, snakemake.output.png, snakemake.output.pdf)

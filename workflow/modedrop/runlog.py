"""Route a Snakemake script's stderr and logging into the rule's log file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def start(log_path: str | Path) -> logging.Logger:
    """Send stderr (progress bars, warnings, tracebacks) and INFO logging to ``log_path``."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(log_path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    return logging.getLogger("modedrop")

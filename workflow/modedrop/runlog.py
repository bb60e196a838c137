"""Route a Snakemake script's stderr and logging into the rule's log file; set up the job."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from modedrop.allocator import keep_freed_memory


def start(log_path: str | Path) -> logging.Logger:
    """Send stderr (progress bars, warnings, tracebacks) and INFO logging to ``log_path``.

    Every workflow job calls it first, so it also sets the job's allocator
    (:func:`modedrop.allocator.keep_freed_memory`).
    """
    keep_freed_memory()
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

"""Progress for long stages: a rich bar on a terminal, a log line every ~10 s otherwise.

Under Slurm or Snakemake's log files there is no terminal, and a bar would only
fill the log with control codes, so plain lines with counts are written instead.
"""

from __future__ import annotations

import sys
import time
from typing import Any

LOG_EVERY_S = 10.0


class Progress:
    """Counts work done out of ``total``; use as a context manager or call ``close``."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.last_log = time.monotonic()
        self.bar: Any = None
        if sys.stderr.isatty() and total > 1:
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(transient=True)
            self.task = self.bar.add_task(label, total=total)
            self.bar.start()

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.bar is not None:
            self.bar.advance(self.task, amount)
        elif time.monotonic() - self.last_log >= LOG_EVERY_S:
            self.last_log = time.monotonic()
            print(f"{self.label}: {self.done}/{self.total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

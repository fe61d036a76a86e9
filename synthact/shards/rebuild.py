"""What the workflow does with a damaged shard: a real run moves it aside and rebuilds it; other commands only say.

``ShardGuard.visit`` is called from merge's input function (rules/common.smk),
so it runs while Snakemake builds the DAG, once per shard, before Snakemake
decides what to run: a shard moved aside is missing, so its merge (then the
manifest) reruns alone, from the render cache.

Snakemake builds the DAG for read-only commands too (``-n``, ``--summary``,
``--dag``, ``--report``); they only print what a real run would do and keep
what they learnt in memory. A real run (an executor that runs jobs) takes the
output folder's lock before it moves or writes anything, so a run never moves
a shard that another run is writing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from synthact.config import RunPaths
from synthact.shards.integrity import check_shard, keep_confirmed, move_aside, move_unplanned_aside, unplanned_shards


def _say(message: str) -> None:
    print(message, file=sys.stderr)


class ShardGuard:
    """Checks each shard once per process; acts on it only in a real run."""

    def __init__(
        self,
        paths: RunPaths,
        real_run: Callable[[], bool],
        forced: Callable[[Path], bool],
        lock: Callable[[], object],
        say: Callable[[str], None] = _say,
    ) -> None:
        self.paths = paths
        self.real_run = real_run
        self.forced = forced  # the user forces this shard's rebuild: hash it even if its stat is the one last seen
        self.lock = lock
        self.say = say
        self.visited: set[str] = set()
        self.unplanned_seen: set[Path] = set()

    def visit(self, shard: str) -> None:
        if shard in self.visited:
            return
        self.visited.add(shard)
        check = check_shard(self.paths, shard, full=self.forced(self.paths.shard_file(shard)))
        if not check.damage:
            if check.confirmed is not None and self.real_run():
                self.lock()
                keep_confirmed(self.paths, check)
            return
        if not self.real_run():
            self.say(
                f"synthact: shard {shard} is damaged ({check.damage}); a real run moves it to "
                f"{self.paths.work_dir / 'damaged'}/ and rebuilds it (nothing was moved)"
            )
            return
        self.lock()
        aside = move_aside(self.paths, shard)
        self.say(f"synthact: shard {shard} is damaged ({check.damage}); moved to {aside}, rebuilding it")

    def set_aside_unplanned(self, planned: list[str]) -> None:
        """Shards that the current plan does not name (an older ``plan.frames_per_shard``) leave ``shards/``."""
        for shard_file in unplanned_shards(self.paths, planned):
            if shard_file in self.unplanned_seen:
                continue
            self.unplanned_seen.add(shard_file)
            if not self.real_run():
                self.say(
                    f"synthact: {shard_file} is not in the plan (an older shard layout); a real run moves it to "
                    f"{self.paths.work_dir / 'stale'}/ (nothing was moved)"
                )
                continue
            self.lock()
            aside = move_unplanned_aside(self.paths, shard_file)
            self.say(f"synthact: {shard_file} is not in the plan (an older shard layout); moved to {aside}")

"""One mp4 per clip-view, with an mmaction2 ``VideoDataset`` list and PySlowFast CSVs.

Layout under DEST:

- ``videos/<split>/<clip_id>_<view>.mp4``: the clip's frames of the take's RGB
  (``take_frame_start:take_frame_stop``), H.264 via ``video.write_mp4``;
- ``mmaction/<split>_list_videos.txt``: ``<path relative to DEST/videos> <label>``
  per line (mmaction2 ``VideoDataset``, ``data_prefix=dict(video="DEST/videos")``);
- ``slowfast/<split>.csv``: the same ``path label`` pairs, space-separated
  (PySlowFast ``Kinetics``: ``DATA.PATH_TO_DATA_DIR=DEST/slowfast``,
  ``DATA.PATH_PREFIX=DEST/videos``, ``DATA.PATH_LABEL_SEPARATOR=" "``);
- ``classes.txt``: class names in index order.

Labels are the protocol's class indices (``label_index``). Splits are the clip
table's; ``test`` files are written only when the table has test clips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from synthact.consume.exportio import is_complete, progress, remove_partials, write_text_atomic
from synthact.consume.video import EXPORT_VIDEO, ExportVideo, write_mp4


@dataclass(frozen=True)
class ClipVideo:
    clip_id: str
    take_id: str
    view: str
    split: str
    label: int
    take_frame_start: int
    take_frame_stop: int

    @property
    def relpath(self) -> PurePosixPath:
        return PurePosixPath(self.split) / f"{self.clip_id}_{self.view}.mp4"


def plan_clip_videos(rows: Iterable[Mapping[str, Any]], views: Sequence[str]) -> list[ClipVideo]:
    """One ``ClipVideo`` per clip-table row and view."""
    out = [
        ClipVideo(
            row["clip_id"],
            row["take_id"],
            view,
            row["split"],
            int(row["label_index"]),
            int(row["take_frame_start"]),
            int(row["take_frame_stop"]),
        )
        for row in rows
        for view in views
    ]
    for video in out:
        if " " in str(video.relpath):
            raise ValueError(f"clip {video.clip_id} view {video.view}: a space in the name breaks the list files")
    return out


def list_lines(videos: Iterable[ClipVideo]) -> str:
    """``path label`` lines; the same text serves mmaction2 and PySlowFast (separator " ")."""
    return "".join(f"{v.relpath} {v.label}\n" for v in videos)


def write_lists(dest: str | Path, videos: Sequence[ClipVideo], classes: Sequence[str]) -> list[Path]:
    """Write the list files and ``classes.txt`` atomically; returns their paths."""
    dest = Path(dest)
    written = []
    for split in sorted({v.split for v in videos}):
        text = list_lines(v for v in videos if v.split == split)
        for path in (dest / "mmaction" / f"{split}_list_videos.txt", dest / "slowfast" / f"{split}.csv"):
            write_text_atomic(path, text)
            written.append(path)
    write_text_atomic(dest / "classes.txt", "".join(f"{c}\n" for c in classes))
    written.append(dest / "classes.txt")
    return written


def export_clip_videos(
    dest: str | Path,
    videos: Sequence[ClipVideo],
    read_rgb: Callable[[str, str, slice], np.ndarray],
    fps: Mapping[str, float],
    show_progress: bool = True,
    video_settings: ExportVideo = EXPORT_VIDEO,
) -> dict[str, int]:
    """Write each clip-view's mp4 not yet complete; ``read_rgb(take_id, view, frames)``.

    ``fps``: take_id -> frame rate.
    """
    root = Path(dest) / "videos"
    if root.exists():
        remove_partials(root)
    counts = {"written": 0, "skipped": 0}
    for video in progress(videos, "clip videos", enabled=show_progress):
        path = root / video.relpath
        if is_complete(path):
            counts["skipped"] += 1
            continue
        frames = slice(video.take_frame_start, video.take_frame_stop)
        rgb = read_rgb(video.take_id, video.view, frames)
        s = video_settings
        write_mp4(path, rgb, fps[video.take_id], pix_fmt=s.pix_fmt, gop=s.keyframe_interval)
        counts["written"] += 1
    return counts

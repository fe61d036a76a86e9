"""``synthact export FORMAT``, ``preview`` and ``stats`` over a whole run (a ``run.Run``).

Each function reads only what its files need, one clip-view or take-view at a
time, skips files that are already complete (so an interrupted export resumes)
and shows a progress bar. The per-format rules live in the ``export_*`` modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from synthact.consume import export_amarv, export_ntu_depth, export_pyskl, export_videolist
from synthact.consume.export_dest import ExportIdentity, claim_destination
from synthact.consume.exportio import is_complete, progress
from synthact.consume.preview import (
    contact_sheet,
    persons_caption,
    preview_selection,
    slug,
    write_clip_preview,
    write_png,
    write_run_page,
)
from synthact.consume.run import Run
from synthact.consume.sample_names import sample_names
from synthact.consume.stats import run_stats, write_stats
from synthact.consume.video import EXPORT_VIDEO, ExportVideo

AMARV_PROTOCOL = "segments"
VIDEO_EXPORTS = ("amarv", "video-list")  # the exports that write mp4s (ExportVideo)
POSE_MODALITIES = ("ntu25_joints_cam", "keypoints_2d", "keypoints_visible", "present")  # the pyskl export's


def _clip_frames(row: Mapping[str, Any]) -> slice:
    """The clip's frames of its take (a slice: h5py's fastest read)."""
    return slice(int(row["take_frame_start"]), int(row["take_frame_stop"]))


def export_amarv_run(
    run: Run,
    dest: str | Path,
    depth: bool = True,
    view_map: Mapping[str, str] | None = None,
    show_progress: bool = True,
    video: ExportVideo = EXPORT_VIDEO,
) -> dict[str, int]:
    """Videos of every take and the label CSVs of the ``segments`` protocol."""
    takes = run.takes()
    by_id = {t["take_id"]: t for t in takes}
    if view_map is None:
        first = takes[0]["take_id"]
        view_map = export_amarv.amarv_view_names(
            {v: float(run.view_attrs(first, v).get("azimuth_deg", 0.0)) for v in run.views}
        )
    rows, classes = run.table(AMARV_PROTOCOL)
    export_amarv.write_labels(dest, rows, by_id, classes)
    videos = export_amarv.plan_videos(takes, view_map, depth=depth)
    read = lambda t, v, m: run.read(t, v, m)  # noqa: E731
    return export_amarv.export_videos(dest, videos, by_id, read, show_progress, video)


def split_preset(views: list[str]) -> str:
    """``ntu`` when the rig is NTU's three cameras, else the plain train/val names."""
    return "ntu" if set(views) == {"c1", "c2", "c3"} else "default"


def export_pyskl_run(
    run: Run, dest: str | Path, protocol: str | None = None, preset: str | None = None, show_progress: bool = True
) -> list[Path]:
    """``pyskl_3d.pkl`` (NTU-25 joints_cam) and ``pyskl_2d.pkl`` (COCO-17 pixels)."""
    dest = Path(dest)
    paths = [dest / "pyskl_3d.pkl", dest / "pyskl_2d.pkl"]
    if all(is_complete(p) for p in paths):
        return paths
    rows, _ = run.table(protocol)
    preset = preset or split_preset(run.views)
    sizes = {}
    anns3, anns2, items = [], [], []
    work = [(row, view) for row in rows for view in run.views]
    names = sample_names(_naming_items(run, rows))
    for row, view in progress(work, "pyskl clip-views", enabled=show_progress):
        key = (row["take_id"], view)
        if key not in sizes:
            sizes[key] = run.view_attrs(*key)["image_size"]
        arrays = run.read(row["take_id"], view, POSE_MODALITIES, _clip_frames(row))
        name = names[(row["clip_id"], view)]
        label = int(row["label_index"])
        present = arrays["present"]
        anns3.append(export_pyskl.annotation_3d(name, label, arrays["ntu25_joints_cam"], present))
        anns2.append(
            export_pyskl.annotation_2d(
                name, label, arrays["keypoints_2d"], arrays["keypoints_visible"], sizes[key], present
            )
        )
        items.append(export_pyskl.PoseItem(name, row["split"], view))
    split = export_pyskl.split_table(items, preset)
    export_pyskl.write_pose_pickle(paths[0], anns3, split)
    export_pyskl.write_pose_pickle(paths[1], anns2, split)
    return paths


def export_videolist_run(
    run: Run,
    dest: str | Path,
    protocol: str | None = None,
    show_progress: bool = True,
    video: ExportVideo = EXPORT_VIDEO,
) -> dict[str, int]:
    rows, classes = run.table(protocol)
    fps = {t["take_id"]: float(t["fps"]) for t in run.takes()}
    videos = export_videolist.plan_clip_videos(rows, run.views)
    export_videolist.write_lists(dest, videos, classes)
    read = lambda t, v, f: run.read(t, v, ("rgb",), f)["rgb"]  # noqa: E731
    return export_videolist.export_clip_videos(dest, videos, read, fps, show_progress, video)


def _naming_items(run: Run, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``sample_names`` needs of every clip-view: its clip, view, source, repetition and chunk."""
    sources = {t["take_id"]: t["source"] for t in run.takes()}
    return [
        {
            "clip_id": r["clip_id"],
            "view": v,
            "source": sources[r["take_id"]],
            "repetition": r.get("repetition", 0),
            "chunk": r.get("chunk", 0),
            "row": r,
        }
        for r in rows
        for v in run.views
    ]


def export_ntu_depth_run(
    run: Run, dest: str | Path, protocol: str | None = None, show_progress: bool = True
) -> dict[str, int]:
    rows, classes = run.table(protocol)
    work = _naming_items(run, rows)
    names = sample_names(work)
    counts = {"written": 0, "skipped": 0}
    for item in progress(work, "ntu depth samples", enabled=show_progress):
        row, name = item["row"], names[(item["clip_id"], item["view"])]
        frames = _clip_frames(row)
        folder = Path(dest) / export_ntu_depth.ROOT / name
        if all(is_complete(folder / export_ntu_depth.frame_filename(i)) for i in range(frames.stop - frames.start)):
            counts["skipped"] += 1
            continue
        arrays = run.read(row["take_id"], item["view"], ("depth", "mask"), frames)
        export_ntu_depth.write_sample(dest, name, arrays["depth"], arrays["mask"])
        counts["written"] += 1
    listed = [(names[(i["clip_id"], i["view"])], int(i["row"]["label_index"]), i["row"]["split"]) for i in work]
    export_ntu_depth.write_lists(dest, listed, classes)
    return counts


EXPORTERS: dict[str, Callable[..., Any]] = {
    "amarv": export_amarv_run,
    "pyskl": export_pyskl_run,
    "video-list": export_videolist_run,
    "ntu-depth": export_ntu_depth_run,
}


def export_run(
    fmt: str,
    run: Run,
    dest: str | Path,
    protocol: str | None = None,
    replace: bool = False,
    show_progress: bool = True,
    video: ExportVideo = EXPORT_VIDEO,
) -> Any:
    """Export ``run`` as ``fmt`` into ``dest``, once ``dest`` is this export's own folder (export_dest.py)."""
    from synthact.consume.reader import default_protocol

    dest = Path(dest)
    protocol = AMARV_PROTOCOL if fmt == "amarv" else protocol or default_protocol(run.output_dir)
    coding = f"{video.pix_fmt}, keyframe every {video.keyframe_interval}" if fmt in VIDEO_EXPORTS else ""
    claim_destination(dest, ExportIdentity.of(fmt, protocol, run.output_dir, coding), replace=replace)
    kwargs: dict[str, Any] = {"show_progress": show_progress}
    if fmt != "amarv":
        kwargs["protocol"] = protocol
    if fmt in VIDEO_EXPORTS:
        kwargs["video"] = video
    return EXPORTERS[fmt](run, dest, **kwargs)


def stats_run(run: Run, dest: str | Path) -> list[Path]:
    """``stats.json`` and its plots for every protocol, camera, body, appearance and volume."""
    protocols: list[str | None] = [*run.protocols()] or [None]
    tables = {str(p): run.table(p) for p in protocols}
    takes = run.takes()
    views = [run.view_attrs(t["take_id"], v) for t in takes for v in run.views]
    return write_stats(dest, run_stats(tables, takes, views, run.modality_bytes()))


def preview_run(
    run: Run,
    dest: str | Path,
    protocol: str | None = None,
    max_clips: int = 8,
    columns: int = 6,
    show_progress: bool = True,
) -> list[Path]:
    """Per clip (``max_clips`` of them, spread over classes and takes: ``preview_selection``):
    a side-by-side mp4 of one view (the views taken in turn) and a views x frames contact
    sheet, each captioned and named by action; then the stats and ``index.html`` linking it all."""
    dest = Path(dest)
    rows, classes = run.table(protocol)
    written, clips = [], []
    mods = ("rgb", "depth", "parts", "keypoints_2d", "keypoints_visible")
    takes = {t["take_id"]: t for t in run.takes()}
    fps = {take_id: float(t["fps"]) for take_id, t in takes.items()}
    chosen = preview_selection(rows, max_clips)
    for k, row in enumerate(progress(chosen, "previews", enabled=show_progress)):
        frames, take_id, view = _clip_frames(row), row["take_id"], run.views[k % len(run.views)]
        per_view = {v: run.read(take_id, v, mods if v == view else ("rgb",), frames) for v in run.views}
        action = classes[int(row["label_index"])]
        persons = persons_caption(int(takes[take_id].get("num_persons", 1)))
        title = f"{action} | take {take_id} | {persons} | {row['split']}"
        name = f"{slug(action)}-{row['clip_id']}"
        mp4, png = dest / "clips" / f"{name}.mp4", dest / "sheets" / f"{name}.png"
        if not is_complete(mp4):
            write_clip_preview(mp4, per_view[view], fps[take_id], f"{title} | view {view}")
        if not is_complete(png):
            write_png(png, contact_sheet({v: a["rgb"] for v, a in per_view.items()}, columns, title)[0])
        written += [mp4, png]
        clips.append(
            {"title": f"{title} | video: view {view}", "sheet": f"sheets/{png.name}", "preview": f"clips/{mp4.name}"}
        )
    stat_files = stats_run(run, dest / "stats")
    summary = {
        "output": str(run.output_dir),
        "takes": len(fps),
        "clips": len(rows),
        "views": ", ".join(run.views),
        "classes": len(classes),
        "previewed": f"{len(chosen)} clips of {len({int(r['label_index']) for r in chosen})} classes",
    }
    plots = [f"stats/{p.name}" for p in stat_files if p.suffix == ".png"]
    write_run_page(dest / "index.html", f"SynthAct run {run.output_dir.name}", summary, clips, plots)
    return [*written, *stat_files, dest / "index.html"]

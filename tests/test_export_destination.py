"""An export's destination holds one export of one run: never the run itself, never two exports mixed.

Over a Run of real-shaped arrays (``tests/consume_inputs.py``) with a manifest on disk, through
``export_run`` as the CLI calls it; the real run and the CLI are in ``test_consume_e2e.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from synthact.consume.export_dest import MARKER, ExportDestinationError
from synthact.consume.exports import export_run
from synthact.consume.video import ExportVideo
from tests.consume_inputs import ArrayRun


def array_run(folder: Path, tag: str = "a") -> ArrayRun:
    """A run whose manifest (its identity for exports) differs by ``tag``."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"tag": tag, "labels": [{"protocol": "segments"}, {"protocol": "babel-chunks-60"}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return ArrayRun(folder, num_takes=1, num_frames=12)


def files_of(folder: Path) -> dict[Path, tuple[int, int]]:
    """Every file under ``folder`` with its inode and mtime (a rewritten file changes them)."""
    return {p.relative_to(folder): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def export(fmt: str, run: ArrayRun, dest: Path, **kwargs) -> object:
    return export_run(fmt, run, dest, show_progress=False, **kwargs)


@pytest.fixture
def run(tmp_path) -> ArrayRun:
    return array_run(tmp_path / "run")


@pytest.mark.parametrize("inside", [".", "exports", "shards/x"])
def test_a_destination_inside_the_run_is_refused(tmp_path, run, inside):
    before = files_of(run.output_dir)
    with pytest.raises(ExportDestinationError, match=r"inside the run's own folder .*choose a folder outside it"):
        export("pyskl", run, run.output_dir / inside)
    assert files_of(run.output_dir) == before


def test_a_destination_holding_the_run_is_refused(tmp_path, run):
    with pytest.raises(ExportDestinationError, match=r"holds the run .* itself"):
        export("pyskl", run, tmp_path, replace=True)
    assert (run.output_dir / "manifest.json").is_file()


def test_another_protocol_into_the_same_destination_is_refused_then_replaced_whole(tmp_path, run):
    dest = tmp_path / "dest"
    export("video-list", run, dest, protocol="segments")
    first = files_of(dest)
    with pytest.raises(ExportDestinationError, match=r"holds another export \(video-list export of protocol segments"):
        export("video-list", run, dest, protocol="babel-chunks-60")
    assert files_of(dest) == first  # refused before anything was written
    export("video-list", run, dest, protocol="babel-chunks-60", replace=True)
    alone = tmp_path / "alone"
    export("video-list", run, alone, protocol="babel-chunks-60")
    assert set(files_of(dest)) == set(files_of(alone))  # nothing of the first export is left
    assert json.loads((dest / MARKER).read_text())["protocol"] == "babel-chunks-60"


def test_another_format_into_the_same_destination_is_refused(tmp_path, run):
    dest = tmp_path / "dest"
    export("pyskl", run, dest)
    first = files_of(dest)
    with pytest.raises(ExportDestinationError, match=r"holds another export \(pyskl export .*--replace"):
        export("ntu-depth", run, dest)
    assert files_of(dest) == first


def test_other_video_coding_into_the_same_destination_is_refused(tmp_path, run):
    """A resumed export skips files that exist: another coding would mix two in one folder."""
    dest = tmp_path / "dest"
    export("video-list", run, dest)
    first = files_of(dest)
    with pytest.raises(ExportDestinationError, match=r"holds another export \(video-list .*yuv420p, keyframe every 16"):
        export("video-list", run, dest, video=ExportVideo(keyframe_interval=32))
    assert files_of(dest) == first
    export("video-list", run, dest)  # the same coding resumes: its videos are kept, not rewritten
    videos = {p: stat for p, stat in first.items() if p.suffix == ".mp4"}
    assert videos and {p: stat for p, stat in files_of(dest).items() if p.suffix == ".mp4"} == videos


def test_another_run_into_the_same_destination_is_refused(tmp_path, run):
    dest = tmp_path / "dest"
    export("pyskl", run, dest)
    with pytest.raises(ExportDestinationError, match="holds another export"):
        export("pyskl", array_run(tmp_path / "other", tag="b"), dest)


def test_a_folder_that_is_not_an_export_is_never_emptied(tmp_path, run):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    for replace in (False, True):
        with pytest.raises(ExportDestinationError, match=f"not empty and not a SynthAct export \\(no {MARKER}\\)"):
            export("pyskl", run, dest, replace=replace)
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def test_an_interrupted_export_resumes_and_rewrites_only_what_is_missing(tmp_path, run):
    dest = tmp_path / "dest"
    assert export("video-list", run, dest)["written"] == 8  # 2 clips x 4 views
    videos = sorted((dest / "videos").rglob("*.mp4"))
    for lost in videos[:3]:  # what a kill leaves: the record, some finished files, not the rest
        lost.unlink()
    kept = files_of(dest)
    assert export("video-list", run, dest) == {"written": 3, "skipped": 5}
    assert {p: s for p, s in files_of(dest).items() if p in kept and p.suffix == ".mp4"} == {
        p: s for p, s in kept.items() if p.suffix == ".mp4"
    }  # the finished files were not written again


def test_an_export_killed_before_its_first_file_resumes(tmp_path, run):
    dest = tmp_path / "dest"
    export("pyskl", run, dest)
    for path in dest.iterdir():
        if path.name != MARKER:
            path.unlink()
    assert [p.name for p in export("pyskl", run, dest)] == ["pyskl_3d.pkl", "pyskl_2d.pkl"]
    assert (dest / "pyskl_3d.pkl").is_file()


def test_a_moved_run_resumes_its_export(tmp_path, run):
    dest = tmp_path / "dest"
    export("pyskl", run, dest)
    moved = tmp_path / "moved"
    shutil.move(run.output_dir, moved)
    export("pyskl", array_run(moved), dest)  # same manifest: the same run, elsewhere

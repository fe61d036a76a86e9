"""AMASS download check on a small fake tree: subsets, counts, rates, broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthact.sources.amass_check import AmassCheckReport, check_amass, format_report

ODD_RATE = 120.00004577636719  # a real AMASS frame rate (FORMATS.md)


def _smplh(path: Path, fps: float, frames: int = 5, gender: object = "male") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        poses=np.zeros((frames, 156)),
        trans=np.zeros((frames, 3)),
        betas=np.zeros(16),
        dmpls=np.zeros((frames, 8)),
        gender=np.array(gender),
        mocap_framerate=np.array(fps),
    )
    return path


def _smplx(path: Path, fps: float, frames: int = 4) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        poses=np.zeros((frames, 165)),
        trans=np.zeros((frames, 3)),
        betas=np.zeros(16),
        gender=np.array("female"),
        mocap_frame_rate=np.array(fps),
        surface_model_type=np.array("smplx"),
    )
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "amass"
    _smplh(root / "CMU/CMU/01/01_01_poses.npz", 120.0)
    _smplh(root / "CMU/CMU/01/01_02_poses.npz", 120.0, gender=b"female")
    _smplh(root / "BioMotionLab_NTroje/rub001/0000_treadmill_norm_poses.npz", ODD_RATE)
    _smplh(root / "KIT/KIT/3/walk_poses.npz", 100.0)
    _smplx(root / "HDM05/bk/HDM_bk_01_stageii.npz", 120.0)
    np.savez(root / "HDM05/bk/female_stagei.npz", betas=np.zeros(16))  # per-subject: skipped
    np.savez(root / "KIT/KIT/3/shape.npz", betas=np.zeros(16), gender=np.array("male"))  # skipped
    (root / "CMU/CMU/02").mkdir(parents=True)
    (root / "CMU/CMU/02/02_01_poses.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.savez(root / "KIT/KIT/3/broken_poses.npz", trans=np.zeros((3, 3)), mocap_framerate=np.array(100.0))
    _smplh(root / "my_extras/x/y_poses.npz", 60.0)
    return root


def _subset(report: AmassCheckReport, name: str):
    return next(s for s in report.subsets if s.name == name)


def test_subsets_counts_and_rates(tree: Path) -> None:
    report = check_amass(tree, progress=None)
    names = [s.name for s in report.subsets]
    assert names == ["BMLrub", "CMU", "HDM05", "KIT", "my_extras"]
    cmu = _subset(report, "CMU")
    assert (cmu.smplh_sequences, cmu.smplx_sequences, cmu.problems) == (3, 0, 1)
    assert cmu.folders == {"CMU"}
    assert dict(cmu.frame_rates) == {120.0: 2}
    bml = _subset(report, "BMLrub")
    assert bml.folders == {"BioMotionLab_NTroje"}  # found under the old archive name
    assert dict(bml.frame_rates) == {ODD_RATE: 1}
    hdm = _subset(report, "HDM05")
    assert (hdm.smplh_sequences, hdm.smplx_sequences) == (0, 1)  # stagei file skipped
    kit = _subset(report, "KIT")
    assert (kit.sequences, kit.problems) == (2, 1)  # shape.npz skipped
    assert not _subset(report, "my_extras").known
    assert report.total_sequences == 8
    assert "DFaust" in report.missing_subsets and "CMU" not in report.missing_subsets
    assert not report.ok


def test_unreadable_files_are_reported_with_their_error(tree: Path) -> None:
    report = check_amass(tree, progress=None)
    by_name = {p.path.name: p.error for p in report.problems}
    assert set(by_name) == {"02_01_poses.npz", "broken_poses.npz"}
    assert "unreadable" in by_name["02_01_poses.npz"]
    assert "no 'poses' array" in by_name["broken_poses.npz"]


def test_deep_check_finds_damage_inside_the_data(tmp_path: Path) -> None:
    path = _smplh(tmp_path / "SFU/0005/jump_poses.npz", 120.0, frames=50)
    raw = bytearray(path.read_bytes())
    start = raw.index(b"poses.npy") + 300  # inside the poses payload, past the header
    raw[start : start + 8] = b"\x7f" * 8
    path.write_bytes(bytes(raw))
    assert check_amass(tmp_path, progress=None).ok  # headers alone look fine
    deep = check_amass(tmp_path, deep=True, progress=None)
    assert len(deep.problems) == 1
    assert deep.problems[0].path == path


def test_deep_check_accepts_good_files(tree: Path) -> None:
    report = check_amass(tree, deep=True, progress=None)
    assert {p.path.name for p in report.problems} == {"02_01_poses.npz", "broken_poses.npz"}
    assert dict(_subset(report, "HDM05").frame_rates) == {120.0: 1}


def test_root_may_be_one_subset_folder(tree: Path) -> None:
    report = check_amass(tree / "CMU", progress=None)
    assert [s.name for s in report.subsets] == ["CMU"]
    assert report.subsets[0].sequences == 3


def test_subsets_inside_a_wrapper_folder(tmp_path: Path) -> None:
    _smplh(tmp_path / "smplh/DFaust_67/DFaust_67/50002/a_poses.npz", 60.0)
    report = check_amass(tmp_path, progress=None)
    assert [(s.name, s.folders, s.known) for s in report.subsets] == [("DFaust", {"smplh/DFaust_67"}, True)]


def test_progress_reaches_the_total(tree: Path) -> None:
    calls: list[tuple[int, int]] = []
    check_amass(tree, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (8, 8)


def test_default_progress_goes_to_stderr(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_amass(tree)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "checked 8/8 AMASS files" in captured.err


def test_format_report(tree: Path) -> None:
    text = format_report(check_amass(tree, progress=None))
    expected = ("CMU", "BMLrub", "BioMotionLab_NTroje", "120.0000458 (1)", "02_01_poses.npz", "2 unusable file(s)")
    assert all(part in text for part in expected), text
    assert "DFaust (DFaust_67)" in text  # missing subsets name their old folder too
    assert "\x1b[" not in text  # plain text, no colour codes


def test_clean_tree_is_ok(tmp_path: Path) -> None:
    _smplh(tmp_path / "ACCAD/ACCAD/s1/a_poses.npz", 120.0)
    report = check_amass(tmp_path, progress=None)
    assert report.ok
    assert "No unreadable files." in format_report(report)


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="nowhere"):
        check_amass(tmp_path / "nowhere", progress=None)

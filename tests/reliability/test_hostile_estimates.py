"""Estimator outputs and label CSVs as an attacker or a spreadsheet writes them.

Real files through the real estimates stage (``run_fit``): a WHAM subject whose key
climbs out of the run folder, a label CSV with a byte-order mark or in Latin-1, a
subject without a frame, labelled videos that have no estimate, and symlinks out of
``estimates_dir``. Nothing may be written outside the run, and nothing may be dropped
without being named in the report and the log.
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from synthact.fitting.convert import run_fit
from synthact.fitting.estimates.records import EstimateError
from synthact.safe_names import UnsafePathError, file_name
from tests.fixtures.estimates import write_wham
from tests.test_estimates import body, estimates_config, models, truth, write_labels  # noqa: F401  (fixtures)

ESCAPE = "x/../../../../../../ESCAPED"


def _files_named(root, fragment: str) -> list[str]:
    return sorted(str(p) for p in root.rglob(f"*{fragment}*"))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (ESCAPE, "holds a path separator"),
        ("..\\..\\ESCAPED", "holds a path separator"),
        ("..", "is a reference to a folder"),
        ("", "is empty"),
        ("a\x00b", "holds a control character"),
        ("a\nb", "holds a control character"),
        ("x" * 201, "is longer than 200 bytes"),
    ],
)
def test_a_name_that_could_leave_its_folder_is_refused_naming_file_and_value(value, reason):
    with pytest.raises(UnsafePathError) as caught:
        file_name(value, "track id", "est/clip/wham_output.pkl")
    message = str(caught.value)
    assert message.startswith(f"est/clip/wham_output.pkl: track id {value!r} {reason}")
    assert "rename it in that file" in message and "\n" not in message


@pytest.mark.parametrize("value", ["0", "subject_12", "Cook.Cut_p02_r00_v02_c03", "S001C001P001R001A001_rgb"])
def test_ordinary_names_pass(value):
    assert file_name(value, "track id", "f") == value


def _with_escaping_subject(tmp_path, motion):
    path = write_wham(tmp_path / "run" / "estimates", motion)
    data = joblib.load(path)
    data[ESCAPE] = data[0]
    joblib.dump(data, path)
    write_labels(tmp_path / "run" / "labels.csv", [("clip", 0, 10, "walk", "train")])
    return path


def test_a_track_id_that_climbs_out_writes_nothing_anywhere(tmp_path, models, truth):  # noqa: F811
    path = _with_escaping_subject(tmp_path, truth)
    config = estimates_config(tmp_path / "run", models, estimates={"tracks": "all"})
    with pytest.raises(EstimateError) as caught:
        run_fit(config)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"{path}: track id {ESCAPE!r} holds a path separator")
    assert _files_named(tmp_path, "ESCAPED") == []  # before: ESCAPED.json and ESCAPED_poses.npz six folders up
    assert not (tmp_path / "run" / "output" / "work" / "fitted" / "estimates" / "estimates").exists()


def test_lenient_lists_the_file_with_the_escaping_id_and_writes_nothing_for_it(tmp_path, models, truth):  # noqa: F811
    path = _with_escaping_subject(tmp_path, truth)
    write_wham(tmp_path / "run" / "estimates", truth, video="other")
    write_labels(tmp_path / "run" / "labels.csv", [("clip", 0, 10, "walk", "train"), ("other", 0, 10, "walk", "train")])
    config = estimates_config(tmp_path / "run", models, estimates={"tracks": "all"})
    config["clips"]["on_bad_input"] = "lenient"
    report = run_fit(config)
    assert [m["motion"] for m in report.motions] == ["other_track0"]
    assert report.failures[0]["file"] == str(path) and ESCAPE in report.failures[0]["reason"]
    assert _files_named(tmp_path, "ESCAPED") == []


def test_a_csv_video_value_that_is_not_a_name_is_refused_with_its_line(tmp_path, models, truth):  # noqa: F811
    write_wham(tmp_path / "estimates", truth)
    labels = write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train"), ("../up", 0, 1, "walk", "")])
    with pytest.raises(EstimateError, match=rf"^{labels}: line 3: video '\.\./up' holds a path separator"):
        run_fit(estimates_config(tmp_path, models))


def test_a_csv_label_with_a_line_break_is_refused_with_its_line(tmp_path, models, truth):  # noqa: F811
    write_wham(tmp_path / "estimates", truth)
    labels = write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk\nsit", "train")])  # quoted by csv
    with pytest.raises(EstimateError, match=rf"^{labels}: line 2: label 'walk\\nsit' holds a control character"):
        run_fit(estimates_config(tmp_path, models))


# --------------------------------------------------------------------------- encodings


def test_a_label_csv_with_a_byte_order_mark_is_read(tmp_path, models, truth):  # noqa: F811
    write_wham(tmp_path / "estimates", truth)
    labels = write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    labels.write_bytes(b"\xef\xbb\xbf" + labels.read_bytes())  # Excel's "CSV UTF-8"
    report = run_fit(estimates_config(tmp_path, models))  # before: "missing column(s) ['video']"
    assert [m["motion"] for m in report.motions] == ["clip"] and report.clips_per_split["train"] == 1


def test_a_label_csv_in_latin1_names_the_file_line_and_fix(tmp_path, models, truth):  # noqa: F811
    write_wham(tmp_path / "estimates", truth)
    labels = tmp_path / "labels.csv"
    labels.write_bytes("video,start_s,end_s,label\nclip,0,10,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(EstimateError) as caught:  # before: a bare UnicodeDecodeError, no file named
        run_fit(estimates_config(tmp_path, models))
    assert str(caught.value) == (
        f"motion.estimates_labels: {labels}: line 2: byte 0xe9 is not UTF-8 text; "
        "re-save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')"
    )


# --------------------------------------------------------------------------- nothing dropped silently


@pytest.mark.parametrize("empty", [[], np.zeros((0, 72))], ids=["list", "array"])
def test_an_empty_subject_is_named_as_empty_not_as_a_shape_error(tmp_path, models, truth, capsys, empty):  # noqa: F811
    path = write_wham(tmp_path / "estimates", truth)
    data = joblib.load(path)
    data[7] = {"pose_world": empty, "trans_world": [], "betas": [], "frame_ids": []}
    joblib.dump(data, path)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    report = run_fit(estimates_config(tmp_path, models, estimates={"tracks": "all"}))
    assert report.failures == [] and [m["motion"] for m in report.motions] == ["clip_track0"]
    (entry,) = report.empty_tracks
    assert (entry["file"], entry["video"], entry["track"]) == (str(path), "clip", "7")
    log = capsys.readouterr().err
    assert f"estimates: empty track '7' of {path}: no frame; skipped" in log and "1 empty tracks" in log


def test_labelled_videos_without_an_estimate_are_counted_and_named(tmp_path, models, truth, capsys):  # noqa: F811
    write_wham(tmp_path / "estimates", truth)
    labels = write_labels(
        tmp_path / "labels.csv",
        [("clip", 0, 10, "walk", "train"), ("gone", 0, 1, "sit", "train"), ("gone", 1, 2, "sit", "train")],
    )
    report = run_fit(estimates_config(tmp_path, models))
    assert report.labels_without_estimate == [{"video": "gone", "lines": [3, 4]}]
    log = capsys.readouterr().err
    assert f"estimates: {labels}: lines [3, 4]: video 'gone' has no estimate; not used" in log
    assert "1 labelled videos without an estimate" in log


# --------------------------------------------------------------------------- one symlink policy


def test_a_symlink_out_of_estimates_dir_is_refused_and_named(tmp_path, models, truth, capsys):  # noqa: F811
    outside = write_wham(tmp_path / "elsewhere", truth, video="stolen")
    write_wham(tmp_path / "estimates", truth)
    (tmp_path / "estimates" / "linked").mkdir()
    (tmp_path / "estimates" / "linked" / "wham_output.pkl").symlink_to(outside)
    (tmp_path / "estimates" / "folder_link").symlink_to(outside.parent, target_is_directory=True)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    report = run_fit(estimates_config(tmp_path, models))
    assert [m["motion"] for m in report.motions] == ["clip"]  # before: "linked" was converted too
    skipped = {entry["path"]: entry["reason"] for entry in report.skipped_inputs}
    assert set(skipped) == {
        str(tmp_path / "estimates" / "linked" / "wham_output.pkl"),
        str(tmp_path / "estimates" / "folder_link"),
    }
    assert all("resolves outside" in reason for reason in skipped.values())
    assert "2 inputs not taken" in capsys.readouterr().err


def test_a_symlink_that_stays_inside_estimates_dir_is_followed(tmp_path, models, truth):  # noqa: F811
    real = write_wham(tmp_path / "estimates" / "store", truth, video="clip")
    (tmp_path / "estimates" / "alias").mkdir()
    (tmp_path / "estimates" / "alias" / "wham_output.pkl").symlink_to(real)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train"), ("alias", 0, 10, "walk", "train")])
    report = run_fit(estimates_config(tmp_path, models))
    assert sorted(m["motion"] for m in report.motions) == ["alias", "clip"] and report.skipped_inputs == []

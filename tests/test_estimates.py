"""Motion from video: every 3D pose estimator's output -> AMASS SMPL-H motion + BABEL labels.

A KNOWN SMPL-H motion is written in each estimator's exact format and
conventions (tests/fixtures/estimates.py), read back through the estimates stage,
and its world joints compared with the original's after both are grounded. The
estimators' SMPL / SMPL-X bodies are licence-free stand-ins derived from the demo
model (synthact/demo/estimator_models.py), with shape spaces unlike SMPL-H's, so a
plain pad of the betas would fail these comparisons.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from synthact.body.smplh import BodyModel
from synthact.demo.estimator_models import write_source_models
from synthact.errors import ConfigError
from synthact.fitting.convert import effective_motion, fit_outputs, run_fit
from synthact.fitting.estimates.body_shape import SmplhShapeSpace, fit_betas, load_source_shape
from synthact.fitting.estimates.conversion import world_rotation
from synthact.fitting.estimates.detect import find_estimate_files
from synthact.fitting.estimates.records import EstimateError, Track
from synthact.fitting.estimates.tracks import stitch
from synthact.fitting.export import ground_translation
from synthact.sources.amass import load_motion
from synthact.sources.babel import load_babel_file
from tests.fixtures.estimates import (
    WRITERS,
    KnownMotion,
    estimates_config,
    known_motion,
    write_phalp,
    write_vibe,
    write_wham,
)

BODY_JOINTS = 22


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def models(tmp_path_factory, demo_body_model_dir):
    folder = tmp_path_factory.mktemp("models")
    shutil.copytree(demo_body_model_dir, folder / "smplh_models")  # generated once per session
    with np.load(folder / "smplh_models" / "smplh" / "SMPLH_NEUTRAL.npz") as data:
        neutral = {k: data[k] for k in data.files}
    sources = write_source_models(folder / "estimator_models", neutral)
    return folder / "smplh_models", sources


@pytest.fixture(scope="module")
def body(models) -> BodyModel:
    return BodyModel(models[0], "neutral")


@pytest.fixture(scope="module")
def truth(body, models) -> KnownMotion:
    return known_motion(body, models[1])


def write_labels(path: Path, rows: list[tuple]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "start_s", "end_s", "label", "split"])
        writer.writerows(rows)
    return path


def world_joints(body: BodyModel, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray) -> np.ndarray:
    grounded, _ = ground_translation(body, poses, trans, betas, "sequence")
    return body.pose(poses, grounded, betas).joints[:, :BODY_JOINTS].astype(np.float64)


def converted_motion(root: Path, name: str) -> dict:
    return dict(np.load(root / "output" / "work" / "fitted" / "estimates" / "estimates" / f"{name}_poses.npz"))


def round_trip(tmp_path: Path, models, body, truth: KnownMotion, estimator: str, **options) -> dict:
    """Write ``truth`` as ``estimator`` would, convert it, and measure the world joint error."""
    WRITERS[estimator](tmp_path / "estimates", truth)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    config = estimates_config(tmp_path, models, estimates=options)
    report = run_fit(config)
    motion = converted_motion(tmp_path, "clip")
    expected = world_joints(body, truth.poses, truth.trans, truth.betas16)
    got = body.pose(motion["poses"], motion["trans"], motion["betas"]).joints[:, :BODY_JOINTS].astype(np.float64)
    error = np.linalg.norm(got - expected, axis=-1)
    rel = np.linalg.norm((got - got[:, :1]) - (expected - expected[:, :1]), axis=-1)
    (sidecar,) = report.motions
    return {
        "mean": float(error.mean()),
        "max": float(error.max()),
        "root_relative": float(rel.mean()),
        "motion": motion,
        "sidecar": sidecar,
        "report": report,
    }


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("estimator", ["wham", "gvhmr", "phalp", "tram", "slahmr", "vibe"])
def test_round_trip_through_each_estimator_format(tmp_path, models, body, truth, estimator):
    result = round_trip(tmp_path, models, body, truth, estimator)
    shape, seconds = result["sidecar"]["shape_fit"], result["sidecar"]["seconds"]
    print(
        f"\n{estimator}: world joints mean {100 * result['mean']:.3f} cm, max {100 * result['max']:.3f} cm; "
        f"root-relative {100 * result['root_relative']:.3f} cm; shape fit {shape['method']} "
        f"{1000 * shape['seconds']:.1f} ms; whole conversion {1000 * seconds:.0f} ms"
    )
    assert result["mean"] < 0.02
    motion = result["motion"]
    assert motion["poses"].shape == (len(truth), 156) and motion["betas"].shape == (16,)
    assert np.all(motion["poses"][:, 66:] == 0.0)  # neutral (flat) hands
    assert float(motion["mocap_framerate"]) == 30.0
    provenance = result["sidecar"]["provenance"]
    assert provenance["estimator"] == estimator and provenance["video"] == "clip"
    expected_method = {"gvhmr": "joints", "slahmr": "given"}.get(estimator, "vertices")
    assert shape["method"] == expected_method


def test_fitted_betas_beat_a_plain_pad(models, body, truth):
    """The SMPL body of BETAS10 is SMPL-H's ``offset + mixing @ BETAS10`` (up to 2 mm); padding gives another."""
    space = SmplhShapeSpace(body)
    smpl = load_source_shape(models[1].smpl, "smpl")
    fit = fit_betas(space, smpl, truth.betas10)
    padded = np.concatenate([truth.betas10, np.zeros(6)])
    target = smpl.rest_vertices(truth.betas10)
    pad_error = np.sqrt(np.mean(np.sum((space.rest_vertices(padded) - target) ** 2, axis=1)))
    print(
        f"\nshape fit by vertices: rms {1000 * fit.rms_vertex_error_m:.3f} mm in {1000 * fit.seconds:.1f} ms; "
        f"a plain pad is off by {1000 * pad_error:.1f} mm"
    )
    assert fit.rms_vertex_error_m < 0.004 < 0.01 < pad_error  # 3.5 mm: the templates keep their deviation
    assert np.abs(fit.betas - truth.betas16).max() < 0.05


def test_vibe_recovers_pose_and_shape_and_a_path_up_to_the_assumed_field_of_view(tmp_path, models, body, truth):
    write_vibe(tmp_path / "estimates", truth)
    wrong = round_trip(tmp_path, models, body, truth, "vibe", vibe_hfov_deg=45.0)
    print(
        f"\nvibe with a 45 instead of 55 degree FOV: world joints mean {100 * wrong['mean']:.1f} cm, "
        f"root-relative {100 * wrong['root_relative']:.3f} cm"
    )
    assert wrong["root_relative"] < 0.005  # pose and shape do not depend on the camera
    assert wrong["mean"] > 0.2  # the depth does


def test_smoothing_is_configurable_and_costs_little_on_clean_motion(tmp_path, models, body, truth):
    result = round_trip(tmp_path, models, body, truth, "wham", smoothing_s=0.05)
    print(f"\nwham with 0.05 s Gaussian smoothing: world joints mean {100 * result['mean']:.3f} cm")
    assert result["sidecar"]["smoothing_sigma_frames"] == pytest.approx(1.5)
    assert 1e-4 < result["mean"] < 0.02  # it does change the motion, a little


# --------------------------------------------------------------------------- tracks and gaps


def test_two_tracks_and_a_gap_keep_the_longest_and_report_the_gap(tmp_path, models, body, truth):
    write_phalp(tmp_path / "estimates", truth, hole=range(10, 13), second_track=range(20))
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    report = run_fit(estimates_config(tmp_path, models))
    video = report.videos["clip"]
    assert video["kept"] == ["1"] and video["dropped"] == [{"track": "2", "frames": 20}]
    (gap,) = video["gaps"]
    assert (gap["first_missing"], gap["last_missing"], gap["frames"], gap["action"]) == (10, 12, 3, "filled")
    assert gap["seconds"] == pytest.approx(0.1)
    motion = converted_motion(tmp_path, "clip")
    assert len(motion["poses"]) == len(truth)  # the gap is interpolated, not dropped
    expected = world_joints(body, truth.poses, truth.trans, truth.betas16)
    got = body.pose(motion["poses"], motion["trans"], motion["betas"]).joints[:, :BODY_JOINTS]
    assert np.linalg.norm(got - expected, axis=-1)[:10].mean() < 0.02


def test_a_long_gap_cuts_the_track_and_every_track_can_be_its_own_actor(tmp_path, models, truth):
    write_phalp(tmp_path / "estimates", truth, hole=range(30, 40), second_track=range(20))
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    report = run_fit(estimates_config(tmp_path, models, estimates={"max_gap_s": 0.2, "tracks": "all"}))
    video = report.videos["clip"]
    assert video["kept"] == ["1", "2"] and video["gaps"][0]["action"] == "cut"
    assert len(converted_motion(tmp_path, "clip_track1")["poses"]) == 30  # frames 0-29, the longer piece
    assert len(converted_motion(tmp_path, "clip_track2")["poses"]) == 20


def test_stitch_joins_a_track_that_continues_under_a_new_id(tmp_path, models, body, truth):
    """PHALP loses the person at frames 20-21 and calls them tid 3 from frame 22 on."""
    path = write_phalp(tmp_path / "estimates", truth, hole=range(20, 22), second_track=range(20))
    frames = joblib.load(path)
    for index, frame in enumerate(frames.values()):
        if index >= 22:
            frame["tid"] = [3 if tid == 1 else tid for tid in frame["tid"]]
    joblib.dump(frames, path)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    report = run_fit(estimates_config(tmp_path, models, estimates={"tracks": "stitch"}))
    video = report.videos["clip"]
    assert video["stitched"] == ["1", "3"]  # in time order
    assert video["kept"] == ["1+3"] and video["dropped"] == [{"track": "2", "frames": 20}]
    (gap,) = video["gaps"]
    assert (gap["first_missing"], gap["last_missing"], gap["action"]) == (20, 21, "filled")
    motion = converted_motion(tmp_path, "clip")
    expected = world_joints(body, truth.poses, truth.trans, truth.betas16)
    got = body.pose(motion["poses"], motion["trans"], motion["betas"]).joints[:, :BODY_JOINTS]
    assert len(got) == len(truth) and np.linalg.norm(got - expected, axis=-1).mean() < 0.02


# --------------------------------------------------------------------------- labels


def test_csv_labels_become_babel_frame_labels_shifted_to_the_motion(tmp_path, models, truth):
    estimates = tmp_path / "estimates"
    write_phalp(estimates, truth, hole=range(6))  # the person appears at frame 6 = 0.2 s
    write_labels(
        tmp_path / "labels.csv",
        [("clip", 0.5, 1.0, "walk", "val"), ("clip", 1.2, 9.0, "jump", "val"), ("other", 0, 1, "sit", "train")],
    )
    config = estimates_config(tmp_path, models)
    run_fit(config)
    motion = effective_motion(config)
    (sequence,) = load_babel_file(Path(motion["babel_dir"]) / "val.json")
    spans = [(s.act_cat, round(s.start_t, 3), round(s.end_t, 3)) for s in sequence.segments]
    assert spans == [(("walk",), 0.3, 0.8), (("jump",), 1.0, 1.4)]  # 42 frames = 1.4 s long
    assert load_motion(Path(motion["amass_root"]) / sequence.feat_p).fps == 30.0
    splits = json.loads((tmp_path / "output" / "splits" / "csv.json").read_text())
    assert splits == {"csv": {"train": [], "val": ["clip"], "test": []}}


def test_ntu_named_videos_take_class_and_split_from_the_name(tmp_path, models, truth):
    for video in ("S001C001P001R001A008_rgb", "S001C001P003R002A009_rgb"):
        write_wham(tmp_path / "estimates", truth, video=video)
    config = estimates_config(tmp_path, models, estimates_labels="ntu")
    assert {Path(p).name for p in fit_outputs(config)["splits"]} == {"ntu60_xsub.json", "ntu60_xview.json"}
    report = run_fit(config)
    assert report.clips_per_split == {"train": 1, "val": 0, "test": 1}
    labels = Path(effective_motion(config)["babel_dir"])
    (train,) = load_babel_file(labels / "train.json")
    (test,) = load_babel_file(labels / "test.json")
    assert (train.sid, train.segments[0].act_cat) == ("S001C001P001R001A008", ("sitting down",))
    assert (test.sid, test.segments[0].act_cat) == ("S001C001P003R002A009", ("standing up (from sitting position)",))


def test_preset_ntu_accepts_estimates_and_labels_from_the_names(tmp_path, models):
    config = estimates_config(tmp_path, models, estimates_labels="", preset="ntu")
    assert config["rig"]["views"][0]["name"] == "c1"  # the NTU cameras
    assert Path(effective_motion(config)["babel_dir"]).parts[-2:] == ("labels", "xsub")
    smarthome = estimates_config(tmp_path, models, estimates_labels="", preset="smarthome")
    assert Path(effective_motion(smarthome)["babel_dir"]).parts[-2:] == ("labels", "cs")
    with pytest.raises(ConfigError, match=r"motion\.estimates_labels: required"):
        effective_motion(estimates_config(tmp_path, models, estimates_labels=""))


# --------------------------------------------------------------------------- bad input


def test_missing_key_names_file_and_key(tmp_path, models, truth):
    path = write_wham(tmp_path / "estimates", truth)
    data = joblib.load(path)
    del data[0]["trans_world"]
    joblib.dump(data, path)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    with pytest.raises(EstimateError, match=rf"{path}: subject 0: missing key 'trans_world'"):
        run_fit(estimates_config(tmp_path, models))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda s: s.update(pose_world=s["pose_world"][:, :69]),
            r"key '0/pose_world' has shape \(48, 69\), expected \(T, 72\)",
        ),
        (
            lambda s: s["trans_world"].__setitem__((5, 1), np.nan),
            r"key '0/trans_world' holds NaN or inf \(first at index \(5, 1\)\)",
        ),
        (lambda s: s.update(frame_ids=s["frame_ids"][:10]), r"key '0/frame_ids' has 10 entries, but the poses have 48"),
    ],
    ids=["wrong-shape", "nan", "short-frame-ids"],
)
def test_bad_arrays_name_file_and_key(tmp_path, models, truth, damage, message):
    path = write_wham(tmp_path / "estimates", truth)
    data = joblib.load(path)
    damage(data[0])
    joblib.dump(data, path)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    with pytest.raises(EstimateError, match=f"{path}: {message}"):
        run_fit(estimates_config(tmp_path, models))


def test_lenient_mode_lists_bad_files_and_converts_the_rest(tmp_path, models, truth):
    good = write_wham(tmp_path / "estimates", truth, video="good")
    bad = write_wham(tmp_path / "estimates", truth, video="bad")
    joblib.dump(["not", "a", "dict"], bad)
    write_labels(tmp_path / "labels.csv", [("good", 0, 10, "walk", "train")])
    config = estimates_config(tmp_path, models)
    config["clips"]["on_bad_input"] = "lenient"
    report = run_fit(config)
    assert [m["provenance"]["file"] for m in report.motions] == [str(good)]
    assert report.failures[0]["file"] == str(bad) and "expected a non-empty dict" in report.failures[0]["reason"]


def test_unknown_format_names_the_files_found(tmp_path, models):
    (tmp_path / "estimates" / "clip").mkdir(parents=True)
    joblib.dump({"poses": np.zeros((3, 72))}, tmp_path / "estimates" / "clip" / "my_output.pkl")
    with pytest.raises(
        EstimateError, match=r"no output of any estimator under .*my_output\.pkl, in no known estimator format"
    ):
        find_estimate_files(tmp_path / "estimates")
    write_labels(tmp_path / "labels.csv", [])
    with pytest.raises(ConfigError, match=r"motion\.estimates_dir: no output of any estimator"):
        run_fit(estimates_config(tmp_path, models))


def test_rotation_matrices_that_are_not_rotations_are_refused(tmp_path, models, truth):
    path = write_phalp(tmp_path / "estimates", truth)
    frames = joblib.load(path)
    first = next(iter(frames))
    frames[first]["smpl"][0]["body_pose"] = frames[first]["smpl"][0]["body_pose"] * 2.0
    joblib.dump(frames, path)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    with pytest.raises(EstimateError, match=rf"{path}: key 'tid 1/smpl' holds matrices that are not rotations"):
        run_fit(estimates_config(tmp_path, models))


def test_missing_source_body_model_says_which_file_to_supply(tmp_path, models, truth):
    write_wham(tmp_path / "estimates", truth)
    write_labels(tmp_path / "labels.csv", [("clip", 0, 10, "walk", "train")])
    config = estimates_config(tmp_path, models, estimates={"source_models_dir": str(tmp_path / "none")})
    with pytest.raises(EstimateError, match=r"source_models_dir: .* smpl/SMPL_NEUTRAL.pkl"):
        run_fit(config)


# --------------------------------------------------------------------------- through the workflow

NTU_VIDEOS = {"S001C002P001R001A008_rgb": "train", "S001C003P003R002A009_rgb": "test"}  # X-Sub: P001 trains


def workflow_config(estimates_dir: Path, models) -> dict:
    smplh_dir, sources = models
    return {
        "preset": "ntu",
        "seed": 3,
        "output_dir": "output",
        "demo": {"enabled": False},
        "motion": {
            "source": "estimates",
            "estimates_dir": str(estimates_dir),
            "body_model_dir": str(smplh_dir),
            "estimates": {"source_models_dir": str(sources.smpl.parent.parent)},
        },
        "clips": {"fps": 5},
        "render": {"width": 64, "height": 48, "samples": 1},
    }


@pytest.mark.slow  # a real snakemake dry-run
def test_dry_run_of_estimates_converts_before_the_index(tmp_path, models):
    from tests.helpers import dry_run, make_run

    (tmp_path / "estimates").mkdir()
    root = make_run(tmp_path / "run", workflow_config(tmp_path / "estimates", models))
    jobs = dry_run(root)
    rules = {job.rule for job in jobs}
    assert "fit" in rules and "index" in rules and "demo_data" not in rules, rules
    outputs = {output for job in jobs for output in job.outputs}
    assert {"output/splits/ntu60_xsub.json", "output/work/fitted/estimates/labels/xsub/train.json"} <= outputs, outputs


@pytest.mark.slow
def test_ntu_named_estimates_through_index_render_and_merge(tmp_path, models, truth):
    """WHAM estimates of two NTU-named videos -> shards with NTU classes, X-Sub splits and NTU cameras."""
    import h5py

    from synthact.consume.reader import ClipTable, ShardReader
    from tests.helpers import make_run, snakemake

    for video in NTU_VIDEOS:
        write_wham(tmp_path / "estimates", truth, video=video, extra_subject=True)
    root = make_run(tmp_path / "run", workflow_config(tmp_path / "estimates", models))
    snakemake(root)
    output = root / "output"
    takes = []
    for path in sorted((output / "shards").glob("*.h5")):
        reader = ShardReader(path)
        for take_id in reader.take_ids:
            mask = reader.read(take_id, "c1", modalities=["mask"])["mask"]
            takes.append({"shard": path.name, **reader.take_attrs(take_id), "mask": mask})
        assert reader.views == ["c1", "c2", "c3"]  # the NTU preset's cameras
        reader.close()
        with h5py.File(path, "r") as f:
            assert f.attrs["split"] in ("train", "test")
    by_sequence = {t["sequence_id"]: t for t in takes}
    assert set(by_sequence) == {v.removesuffix("_rgb") for v in NTU_VIDEOS}
    for video, split in NTU_VIDEOS.items():
        take = by_sequence[video.removesuffix("_rgb")]
        assert take["split"] == split and take["shard"].startswith(f"{split}-")
        assert take["source"] == f"estimates/estimates/{video.removesuffix('_rgb')}_poses.npz"
        assert take["source_fps"] == 30.0 and take["mask"].any(axis=(1, 2)).all()
    table = ClipTable.load(output, "segments")
    labels = {row.sequence_id: (row.label, row.label_index) for row in table.rows}
    assert labels["S001C002P001R001A008"] == ("sitting down", 7)  # NTU's A8, index 7 in NTU's own order
    assert labels["S001C003P003R002A009"] == ("standing up (from sitting position)", 8)
    assert table.classes.order == "dataset"
    splits = json.loads((output / "splits" / "ntu60_xsub.json").read_text())["ntu60_xsub"]
    assert splits["train"] == ["S001C002P001R001A008"] and splits["test"] == ["S001C003P003R002A009"]
    report = json.loads((output / "work" / "fitted" / "estimates" / "fit_report.json").read_text())
    assert all(v["kept"] == ["0"] and v["dropped"][0]["track"] == "1" for v in report["videos"].values())
    manifest = json.loads((output / "manifest.json").read_text())
    assert set(manifest["splits"]) == {"train", "test"}


def _bare_track(frames: int, **fields: Any) -> Track:
    """A still, upright body at the origin; ``fields`` override the rest."""
    values: dict[str, Any] = {
        "estimator": "tram",
        "file": Path("clip.pkl"),
        "video": "clip",
        "track_id": "0",
        "frame_ids": np.arange(frames),
        "root_rotmat": np.repeat(np.eye(3)[None], frames, 0),
        "body_pose": np.zeros((frames, 21, 3)),
        "trans": np.zeros((frames, 3)),
        "betas": np.zeros(10),
        "body": "smpl",
        "frame": "y_up",
    }
    values.update(fields)
    return Track(**values)


def test_custom_frame_without_up_vector_names_the_file() -> None:
    track = _bare_track(2, frame="custom")
    with pytest.raises(EstimateError, match=r"clip\.pkl: track 0 is in a custom frame but gives no up vector"):
        world_rotation(track)
    assert np.allclose(world_rotation(_bare_track(2, frame="custom", up=np.array([0.0, 0.0, 1.0]))), np.eye(3))


def test_stitching_refuses_half_a_camera_motion() -> None:
    first = _bare_track(3, cam_to_world_R=np.repeat(np.eye(3)[None], 3, 0))
    second = _bare_track(3, track_id="1", frame_ids=np.arange(4, 7))
    with pytest.raises(EstimateError, match="only one of cam_to_world_R and cam_to_world_T"):
        stitch([first, second], max_gap_frames=2)
    motion = {"cam_to_world_R": np.repeat(np.eye(3)[None], 3, 0), "cam_to_world_T": np.zeros((3, 3))}
    joined, ids = stitch(
        [_bare_track(3, **motion), _bare_track(3, track_id="1", frame_ids=np.arange(4, 7), **motion)], 2
    )
    assert ids == ["0", "1"] and len(joined) == 6

"""Synthetic NTU RGB+D and Synthetic Smarthome: skeletons -> SMPL-H fit -> AMASS + BABEL -> shards.

The skeleton files are made from KNOWN SMPL-H motions: a procedural demo action
posed on the licence-free demo body, its joints written as an NTU ``.skeleton``
file (Kinect camera space, NTU-25) or a Smarthome pose JSON (LCR-Net's 13
joints, pelvis-centred). Fitting them must give the motion back; the workflow
must carry the class names, splits and sample ids into the shards.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthact.body.smplh import BodyModel
from synthact.config import validate_config
from synthact.errors import ConfigError
from synthact.fitting.convert import FitStageError, effective_motion, fit_outputs, run_fit
from synthact.fitting.skeleton_sources import LCR_JOINT_MAP
from synthact.sources.amass import load_motion
from synthact.sources.babel import load_babel_file
from synthact.sources.ntu import SMPLH_TO_NTU25
from tests.fixtures.ntu_smarthome import (
    KnownMotion,
    Sighting,
    demo_motion,
    kinect_body,
    truncate_after_line,
    world_to_kinect,
    write_ntu_from_motion,
    write_skeleton,
    write_smarthome_from_motion,
)

NTU_SAMPLE = "S001C001P001R001A023"  # hand waving; X-Sub: performer 1 trains; X-View: camera 1 tests
SMARTHOME_SAMPLE = "Walk_p25_r00_v01_c05"  # CS: subject 25 validates; CV1/CV2: camera 5 validates
NTU25 = list(SMPLH_TO_NTU25)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def body_dir(demo_body_model_dir) -> Path:
    return demo_body_model_dir


@pytest.fixture(scope="module")
def wave(body_dir) -> KnownMotion:
    return demo_motion(body_dir, "wave", fps=30.0, max_frames=45)


@pytest.fixture(scope="module")
def walk(body_dir) -> KnownMotion:
    return demo_motion(body_dir, "walk", fps=20.0, max_frames=40)


def skeleton_config(root: Path, source: str, skeleton_dir: Path, body_dir: Path, **motion) -> dict:
    """A validated run config for a skeleton source, everything under ``root``."""
    config = {
        "output_dir": str(root / "output"),
        "demo": {"enabled": False},
        "motion": {"source": source, "skeleton_dir": str(skeleton_dir), "body_model_dir": str(body_dir), **motion},
        "clips": {"fps": 5},
    }
    return validate_config(config)


@pytest.fixture(scope="module")
def ntu_run(tmp_path_factory, body_dir, wave):
    root = tmp_path_factory.mktemp("ntu_fit")
    write_ntu_from_motion(root / "skeletons" / f"{NTU_SAMPLE}.skeleton", wave)
    config = skeleton_config(root, "ntu", root / "skeletons", body_dir, protocol="xview")
    return config, run_fit(config)


@pytest.fixture(scope="module")
def smarthome_run(tmp_path_factory, body_dir, walk):
    root = tmp_path_factory.mktemp("smarthome_fit")
    write_smarthome_from_motion(root / "poses" / f"{SMARTHOME_SAMPLE}_pose3d.json", walk)
    config = skeleton_config(root, "smarthome", root / "poses", body_dir)  # protocol: cs by default
    return config, run_fit(config)


def rigid_residual(moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Distances left after the best single rotation + translation maps ``moving`` onto ``fixed``."""
    a, b = moving.reshape(-1, 3), fixed.reshape(-1, 3)
    ca, cb = a.mean(0), b.mean(0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(u @ vt))
    rotation = (u @ np.diag([1.0, 1.0, d]) @ vt).T
    return np.linalg.norm((a - ca) @ rotation.T + cb - b, axis=-1)


def fitted_joints(config: dict, sample: str, body_dir: Path) -> np.ndarray:
    """(T, 73, 3) joints of a fitted npz, posed with the neutral body through the AMASS reader."""
    motion_file = (
        Path(effective_motion(config)["amass_root"])
        / config["motion"]["source"]
        / config["motion"]["source"]
        / f"{sample}_poses.npz"
    )
    motion = load_motion(motion_file)
    return BodyModel(body_dir, motion.gender).pose(motion.poses, motion.trans, motion.betas).joints.astype(np.float64)


# --------------------------------------------------------------------------- configuration


def test_amass_source_keeps_its_paths(tmp_path):
    config = validate_config({"output_dir": str(tmp_path)})
    assert config["motion"]["source"] == "amass"
    assert effective_motion(config) is config["motion"]


def test_skeleton_sources_read_the_fitted_folder(tmp_path, body_dir):
    config = skeleton_config(tmp_path, "ntu", tmp_path, body_dir, protocol="xsub120", ntu_classes=120)
    motion = effective_motion(config)
    work = tmp_path / "output" / "work" / "fitted"
    assert (motion["amass_root"], motion["babel_dir"]) == (str(work), str(work / "ntu" / "labels" / "xsub120"))
    assert motion["babel_files"] == ["train.json", "val.json", "test.json"]
    assert effective_motion({**config, "motion": motion}) == motion  # idempotent
    outputs = fit_outputs(config)
    assert sorted(Path(p).name for p in outputs["splits"]) == [
        "ntu120_xset.json",
        "ntu120_xsub.json",
        "ntu60_xsub.json",
        "ntu60_xview.json",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": {"protocols": ["babel-chunks-60"]}}, r"set labels.protocols: \[segments\]"),
        ({"demo": {"enabled": True}}, "set demo.enabled: false"),
        ({"motion": {"protocol": "cv1"}}, "not a protocol of NTU RGB\\+D"),
        ({"motion": {"protocol": "xset120"}}, "set motion.ntu_classes: 120"),
        ({"motion": {"skeleton_dir": ""}}, "motion.skeleton_dir: required"),
    ],
)
def test_bad_skeleton_configs_name_the_key(tmp_path, body_dir, change, message):
    config = skeleton_config(tmp_path, "ntu", tmp_path, body_dir)
    for section, values in change.items():
        config[section].update(values)
    with pytest.raises(ConfigError, match=message):
        effective_motion(config)


# --------------------------------------------------------------------------- the fit stage


def test_ntu_fit_writes_an_amass_motion_that_is_the_known_motion(ntu_run, body_dir, wave):
    config, report = ntu_run
    (outcome,) = report.samples
    print(
        f"\nNTU fit: mean {100 * outcome['mean_error_m']:.2f} cm, max {100 * outcome['max_error_m']:.2f} cm, "
        f"{outcome['seconds']} s for {outcome['frames']} frames"
    )
    assert (report.fitted, report.failures, outcome["frames"]) == (1, [], 45)
    assert outcome["mean_error_m"] < 0.01 and outcome["max_error_m"] < 0.04
    assert outcome["fields"] == {"setup": 1, "camera": 1, "performer": 1, "replication": 1, "action": 23}
    path = Path(effective_motion(config)["amass_root"]) / "ntu" / "ntu" / f"{NTU_SAMPLE}_poses.npz"
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["betas", "dmpls", "gender", "mocap_framerate", "poses", "trans"]
        assert npz["poses"].shape == (45, 156) and npz["poses"].dtype == np.float64
        assert npz["trans"].shape == (45, 3) and npz["betas"].shape == (16,)
        assert npz["dmpls"].shape == (45, 8) and not npz["dmpls"].any()
        assert str(npz["gender"]) == "neutral" and float(npz["mocap_framerate"]) == 30.0
    # Up to where the camera stood, the fitted body moves as the known one did.
    residual = rigid_residual(fitted_joints(config, NTU_SAMPLE, body_dir)[:, NTU25], wave.joints[:, NTU25])
    print(f"fitted vs known NTU-25 joints: mean {100 * residual.mean():.2f} cm, max {100 * residual.max():.2f} cm")
    assert residual.mean() < 0.015


def test_ntu_labels_and_split_files_follow_the_protocols(ntu_run):
    config, report = ntu_run
    labels = Path(effective_motion(config)["babel_dir"])
    (sequence,) = load_babel_file(labels / "test.json")  # X-View: camera 1 tests
    assert load_babel_file(labels / "train.json") == [] and load_babel_file(labels / "val.json") == []
    assert (sequence.sid, sequence.split, sequence.feat_p) == (NTU_SAMPLE, "test", f"ntu/ntu/{NTU_SAMPLE}_poses.npz")
    (segment,) = sequence.segments
    assert segment.act_cat == ("hand waving",) and segment.whole_sequence and sequence.dur == pytest.approx(1.5)
    splits = Path(config["output_dir"]) / "splits"
    assert json.loads((splits / "ntu60_xsub.json").read_text())["ntu60_xsub"]["train"] == [NTU_SAMPLE]
    assert json.loads((splits / "ntu60_xview.json").read_text())["ntu60_xview"]["test"] == [NTU_SAMPLE]
    assert report.clips_per_split == {"test": 1, "train": 0, "val": 0}
    on_disk = json.loads((Path(effective_motion(config)["amass_root"]) / "ntu" / "fit_report.json").read_text())
    assert on_disk["samples"][0]["mean_error_m"] == report.samples[0]["mean_error_m"]


def test_finished_samples_are_skipped_and_changed_settings_refit(ntu_run):
    config, _ = ntu_run
    motion_file = Path(effective_motion(config)["amass_root"]) / "ntu" / "ntu" / f"{NTU_SAMPLE}_poses.npz"
    before = motion_file.stat().st_mtime_ns
    again = run_fit(config)
    assert (again.fitted, again.resumed) == (0, 1) and motion_file.stat().st_mtime_ns == before
    changed = json.loads(json.dumps(config))
    changed["motion"]["fit"]["body_iterations"] = 20
    refit = run_fit(changed)
    assert (refit.fitted, refit.resumed) == (1, 0) and motion_file.stat().st_mtime_ns != before


def test_smarthome_fit_labels_and_splits(smarthome_run, body_dir, walk):
    config, report = smarthome_run
    (outcome,) = report.samples
    print(f"\nSmarthome fit: mean {100 * outcome['mean_error_m']:.2f} cm, max {100 * outcome['max_error_m']:.2f} cm")
    assert outcome["mean_error_m"] < 0.01 and outcome["ground"] == "per_frame"  # the file is pelvis-centred
    motion = load_motion(
        Path(effective_motion(config)["amass_root"]) / "smarthome" / "smarthome" / f"{SMARTHOME_SAMPLE}_poses.npz"
    )
    assert motion.fps == 20.0 and motion.num_frames == 40
    (sequence,) = load_babel_file(Path(effective_motion(config)["babel_dir"]) / "val.json")  # CS: subject 25
    assert sequence.split == "val" and sequence.segments[0].act_cat == ("Walk",)
    splits = Path(config["output_dir"]) / "splits"
    assert sorted(p.name for p in splits.iterdir()) == ["smarthome_cs.json", "smarthome_cv1.json", "smarthome_cv2.json"]
    assert json.loads((splits / "smarthome_cv2.json").read_text())["smarthome_cv2"]["val"] == [SMARTHOME_SAMPLE]
    # Pelvis-centred input has no path: compare poses about the hips, up to one rotation.
    fitted = fitted_joints(config, SMARTHOME_SAMPLE, body_dir)[:, list(LCR_JOINT_MAP)]
    truth = walk.joints[:, list(LCR_JOINT_MAP)]
    residual = rigid_residual(
        fitted - fitted[:, [4, 5]].mean(1, keepdims=True), truth - truth[:, [4, 5]].mean(1, keepdims=True)
    )
    print(f"fitted vs known LCR-13 joints about the hips: mean {100 * residual.mean():.2f} cm")
    assert residual.mean() < 0.02


def test_two_person_samples_fit_both_bodies_in_file_order(tmp_path, body_dir, wave):
    """A50 is two-person: the body listed first (standing still) is body 0, the actor body 1."""
    camera = (0.0, -3.0, 1.0)
    actor = world_to_kinect(wave.joints[:24, NTU25], camera, 90.0)
    partner = kinect_body(depth=3.5, lateral=1.0, camera_height=1.0)
    frames = [[Sighting(1, partner), Sighting(2, joints)] for joints in actor]
    write_skeleton(tmp_path / "skeletons" / "S001C001P001R001A050.skeleton", frames)
    config = skeleton_config(tmp_path, "ntu", tmp_path / "skeletons", body_dir, fit={"body_iterations": 60})
    (outcome,) = run_fit(config).samples
    assert outcome["category"] == "punching/slapping other person" and outcome["persons"][1]["mean_error_m"] < 0.02
    residual = rigid_residual(
        fitted_joints(config, "S001C001P001R001A050_person1", body_dir)[:, NTU25], wave.joints[:24, NTU25]
    )
    assert residual.mean() < 0.03


@pytest.mark.slow  # spawns worker processes, each importing torch (~15 s)
def test_worker_processes_fit_exactly_as_one_process_does(tmp_path, body_dir, wave):
    short = KnownMotion(wave.poses[:10], wave.trans[:10], wave.betas, wave.fps, wave.joints[:10])
    for name in ("S001C002P001R001A023", "S001C003P001R001A023"):
        write_ntu_from_motion(tmp_path / "skeletons" / f"{name}.skeleton", short, yaw_deg=60.0 + int(name[7]) * 10)
    motions = {}
    for workers in (1, 2):
        config = skeleton_config(
            tmp_path / f"w{workers}", "ntu", tmp_path / "skeletons", body_dir, fit={"body_iterations": 20}
        )
        assert run_fit(config, workers=workers).fitted == 2
        folder = Path(effective_motion(config)["amass_root"]) / "ntu" / "ntu"
        motions[workers] = {p.name: p.read_bytes() for p in sorted(folder.glob("*_poses.npz"))}
    assert len(motions[2]) == 2 and motions[1] == motions[2]  # byte-identical


@pytest.fixture()
def bad_skeletons(tmp_path, wave) -> Path:
    folder = tmp_path / "skeletons"
    short = KnownMotion(wave.poses[:12], wave.trans[:12], wave.betas, wave.fps, wave.joints[:12])
    write_ntu_from_motion(folder / f"{NTU_SAMPLE}.skeleton", short)
    write_ntu_from_motion(folder / "S001C001P001R001A001.skeleton", wave)
    truncate_after_line(folder / "S001C001P001R001A001.skeleton", 40)  # sorts first: fails before any fit
    write_skeleton(folder / "S001C001P001R001A002.skeleton", [[] for _ in range(5)])  # no body: a missing skeleton
    write_ntu_from_motion(folder / "not_an_ntu_name.skeleton", wave)
    return folder


def test_bad_files_stop_a_strict_run_with_file_and_line(tmp_path, body_dir, bad_skeletons):
    os.remove(bad_skeletons / "not_an_ntu_name.skeleton")  # (a bad name would stop it first)
    config = skeleton_config(tmp_path, "ntu", bad_skeletons, body_dir)
    with pytest.raises(FitStageError, match=r"S001C001P001R001A001\.skeleton:\d+: .*truncated.*\n.*lenient"):
        run_fit(config)


def test_a_lenient_run_skips_and_reports_bad_files(tmp_path, body_dir, bad_skeletons):
    config = skeleton_config(tmp_path, "ntu", bad_skeletons, body_dir, fit={"body_iterations": 30})
    config["clips"]["on_bad_input"] = "lenient"
    report = run_fit(config)
    assert [s["sample"] for s in report.samples] == [NTU_SAMPLE]
    assert [Path(f).name for f in report.missing_skeletons] == ["S001C001P001R001A002.skeleton"]
    reasons = sorted(f["reason"] for f in report.failures)
    assert len(reasons) == 2
    assert "not_an_ntu_name.skeleton" in reasons[0] + reasons[1]
    assert any(":41: file ends early" in r or "truncated" in r for r in reasons)


# --------------------------------------------------------------------------- through the workflow


def run_workflow(root: Path, config: dict) -> None:
    from tests.helpers import make_run, snakemake

    make_run(root, config)
    snakemake(root)


def workflow_config(source: str, skeleton_dir: Path, body_dir: Path, **motion) -> dict:
    return {
        "seed": 3,
        "output_dir": "output",
        "demo": {"enabled": False},
        "motion": {"source": source, "skeleton_dir": str(skeleton_dir), "body_model_dir": str(body_dir), **motion},
        "clips": {"fps": 5},
        "rig": {"views": [{"name": "front", "azimuth_deg": 0}, {"name": "left", "azimuth_deg": 90}]},
        "render": {"width": 64, "height": 48, "samples": 1},
    }


def shard_clips(root: Path) -> list[dict]:
    """Every clip of the run's segments table, with its take's attributes and its front view's mask."""
    from synthact.consume.reader import ClipTable, ShardReader

    clips = []
    for row in ClipTable.load(root / "output", "segments").rows:
        with ShardReader(root / "output" / "shards" / f"{row.shard}.h5") as reader:
            attrs = reader.take_attrs(row.take_id)
            mask = reader.read(row.take_id, "front", ["mask"], slice(row.take_frame_start, row.take_frame_stop))
        clips.append({"shard": f"{row.shard}.h5", **attrs, "row": row, "mask": mask["mask"]})
    return clips


@pytest.mark.slow  # a real snakemake dry-run
def test_dry_run_of_a_skeleton_source_fits_before_the_index(tmp_path, body_dir):
    from tests.helpers import dry_run, make_run

    (tmp_path / "skeletons").mkdir()
    root = make_run(tmp_path / "run", workflow_config("ntu", tmp_path / "skeletons", body_dir))
    jobs = dry_run(root)
    rules = {job.rule for job in jobs}
    assert "fit" in rules and "index" in rules and "demo_data" not in rules, rules
    outputs = {output for job in jobs for output in job.outputs}
    assert {"output/splits/ntu60_xview.json", "output/work/fitted/ntu/labels/xsub/train.json"} <= outputs, outputs
    assert not (root / "output").exists()


@pytest.mark.slow
def test_synthetic_ntu_through_the_workflow(tmp_path, body_dir, wave):
    write_ntu_from_motion(tmp_path / "skeletons" / f"{NTU_SAMPLE}.skeleton", wave)
    root = tmp_path / "run"
    run_workflow(root, workflow_config("ntu", tmp_path / "skeletons", body_dir, protocol="xview"))
    (clip,) = shard_clips(root)
    assert clip["shard"].startswith("test-") and clip["split"] == "test"
    assert (clip["row"].label, clip["row"].labels, clip["row"].label_index) == ("hand waving", ("hand waving",), 22)
    assert clip["sequence_id"] == NTU_SAMPLE and clip["source"] == f"ntu/ntu/{NTU_SAMPLE}_poses.npz"
    assert clip["source_fps"] == 30.0 and clip["mask"].any(axis=(1, 2)).all()
    output = root / "output"
    assert json.loads((output / "splits" / "ntu60_xsub.json").read_text())["ntu60_xsub"]["train"] == [NTU_SAMPLE]
    assert json.loads((output / "manifest.json").read_text())["splits"] == {"test": 1}
    report = json.loads((output / "work" / "fitted" / "ntu" / "fit_report.json").read_text())
    print(
        f"\nworkflow NTU fit error: mean {100 * report['mean_error_m']:.2f} cm,"
        f" max {100 * report['max_error_m']:.2f} cm"
    )
    assert report["mean_error_m"] < 0.01


@pytest.mark.slow
def test_synthetic_smarthome_through_the_workflow(tmp_path, body_dir, walk):
    write_smarthome_from_motion(tmp_path / "poses" / f"{SMARTHOME_SAMPLE}_pose3d.json", walk)
    root = tmp_path / "run"
    run_workflow(root, workflow_config("smarthome", tmp_path / "poses", body_dir, protocol="cv1"))
    (clip,) = shard_clips(root)
    assert clip["shard"].startswith("val-") and clip["split"] == "val"
    assert (clip["row"].label, clip["sequence_id"]) == ("Walk", SMARTHOME_SAMPLE)
    assert clip["source_fps"] == 20.0 and clip["mask"].any(axis=(1, 2)).all()
    splits = root / "output" / "splits"
    assert json.loads((splits / "smarthome_cs.json").read_text())["smarthome_cs"]["val"] == [SMARTHOME_SAMPLE]
    report = json.loads((root / "output" / "work" / "fitted" / "smarthome" / "fit_report.json").read_text())
    assert report["protocol"] == "cv1" and report["mean_error_m"] < 0.01
    shutil.rmtree(root / "output" / "work" / "cache")  # keep the test's tmp small

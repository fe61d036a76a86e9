"""AMASS motion loading, file discovery and BABEL feat_p resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthact.sources.amass import (
    MotionError,
    feat_p_candidates,
    iter_motion_files,
    load_motion,
    resolve_feat_p,
)
from tests.fixtures.amass_babel import (
    corrupt_member,
    smplx_poses,
    truncate,
    write_smplh_poses,
    write_smplx_stageii,
    write_subject_files,
)

# ------------------------------------------------------------------ good files


@pytest.mark.parametrize("gender", ["male", b"female", "neutral", b"male"])
@pytest.mark.parametrize("fps_key", ["mocap_framerate", "mocap_frame_rate"])
def test_smplh_poses_gender_str_or_bytes_and_both_rate_keys(tmp_path: Path, gender: str | bytes, fps_key: str) -> None:
    path = write_smplh_poses(tmp_path / "A_poses.npz", num_frames=50, fps=60.0, gender=gender, fps_key=fps_key)
    motion = load_motion(path)
    with np.load(path) as raw:
        np.testing.assert_array_equal(motion.poses, raw["poses"])
        np.testing.assert_array_equal(motion.trans, raw["trans"])
        np.testing.assert_array_equal(motion.betas, raw["betas"])
    expected = gender.decode() if isinstance(gender, bytes) else gender
    assert motion.gender == expected
    assert motion.fps == 60.0
    assert motion.poses.shape == (50, 156) and motion.poses.dtype == np.float64
    assert motion.betas.shape == (16,)
    assert motion.source_model == "smplh"
    assert motion.path == path


@pytest.mark.parametrize("fps", [120.0, 100.0, 60.0, 250.0, 150.0, 120.00004577636719, 59.9999885559082])
def test_frame_rate_read_from_each_file(tmp_path: Path, fps: float) -> None:
    motion = load_motion(write_smplh_poses(tmp_path / "a_poses.npz", num_frames=10, fps=fps))
    assert motion.fps == fps


def test_relative_path_with_root(tmp_path: Path) -> None:
    write_smplh_poses(tmp_path / "CMU" / "01" / "01_01_poses.npz", num_frames=5)
    motion = load_motion(Path("CMU/01/01_01_poses.npz"), root=tmp_path)
    assert motion.path == tmp_path / "CMU" / "01" / "01_01_poses.npz"
    assert motion.num_frames == 5


def test_smplx_stageii_maps_root_body_and_hands_and_skips_jaw_eyes(tmp_path: Path) -> None:
    path = write_smplx_stageii(tmp_path / "S1" / "walk_stageii.npz", num_frames=7, fps=120.0, gender="female")
    motion = load_motion(path)  # has a pickled member; must load without allow_pickle
    source = smplx_poses(7)
    assert motion.poses.shape == (7, 156)
    np.testing.assert_array_equal(motion.poses[:, :66], source[:, :66])
    np.testing.assert_array_equal(motion.poses[:, 66:], source[:, 75:])  # hands start at 75 in SMPL-X
    assert not np.any(motion.poses == -1.0)  # jaw and eyes dropped
    assert motion.fps == 120.0 and motion.gender == "female" and motion.source_model == "smplx"


def test_smplx_split_keys_without_poses(tmp_path: Path) -> None:
    path = write_smplx_stageii(tmp_path / "x_stageii.npz", num_frames=4, split_only=True)
    motion = load_motion(path)
    np.testing.assert_array_equal(motion.poses[:, 66:], smplx_poses(4)[:, 75:])


def test_fewer_betas_are_zero_padded(tmp_path: Path) -> None:
    path = write_smplh_poses(tmp_path / "a_poses.npz", num_frames=3, betas=np.ones(10))
    motion = load_motion(path)
    np.testing.assert_array_equal(motion.betas, np.r_[np.ones(10), np.zeros(6)])


# ------------------------------------------------------------------ bad files


def _bad(tmp_path: Path, **kwargs: object) -> Path:
    return write_smplh_poses(tmp_path / "Bad" / "bad_poses.npz", num_frames=20, **kwargs)


def _raw(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _npy(tmp_path: Path) -> Path:
    np.save(tmp_path / "one.npy", np.zeros(3))
    return tmp_path / "one.npy"


def _poses_with(index: tuple[int, int], value: float) -> np.ndarray:
    poses = np.zeros((20, 156))
    poses[index] = value
    return poses


BAD_FILES = {
    "truncated": (lambda p: truncate(_bad(p)), "truncated or damaged npz"),
    "garbage": (lambda p: _raw(p, "g_poses.npz", b"not a zip at all" * 8), "not an npz archive"),
    "empty": (lambda p: _raw(p, "e_poses.npz", b""), "empty file"),
    "bad crc": (lambda p: corrupt_member(_bad(p)), "cannot read 'poses', corrupt data (BadZipFile: Bad CRC-32"),
    "single npy": (_npy, "single .npy array"),
    "missing poses": (lambda p: _bad(p, poses=None), "missing key 'poses'"),
    "missing trans": (lambda p: _bad(p, trans=None), "missing key 'trans'"),
    "missing betas": (lambda p: _bad(p, betas=None), "missing key 'betas'"),
    "missing gender": (lambda p: _bad(p, gender=None), "missing key 'gender'"),
    "missing fps": (lambda p: _bad(p, mocap_framerate=None), "missing frame rate"),
    "wrong width": (lambda p: _bad(p, poses=np.zeros((20, 72))), "72 values per frame"),
    "1-D poses": (lambda p: _bad(p, poses=np.zeros(156)), "must be 2-D"),
    "nan": (lambda p: _bad(p, poses=_poses_with((7, 4), np.nan)), "'poses' contains NaN (first at frame 7)"),
    "inf": (lambda p: _bad(p, trans=np.full((20, 3), np.inf)), "'trans' contains inf (first at frame 0)"),
    "zero length": (lambda p: _bad(p, poses=np.zeros((0, 156)), trans=np.zeros((0, 3))), "zero-length motion"),
    "trans length": (lambda p: _bad(p, trans=np.zeros((19, 3))), "'trans' has shape (19, 3), expected (20, 3)"),
    "zero fps": (lambda p: _bad(p, mocap_framerate=np.array(0.0)), "the frame rate must be positive"),
    "negative fps": (lambda p: _bad(p, mocap_framerate=np.array(-120.0)), "the frame rate must be positive"),
    "nan fps": (lambda p: _bad(p, mocap_framerate=np.array(np.nan)), "'mocap_framerate' is NaN"),
    "bad gender": (lambda p: _bad(p, gender=np.array("robot")), "'gender' is"),
    "pickled gender": (lambda p: _bad(p, gender=np.array(None)), "'gender' is stored as pickled Python objects"),
    "text poses": (lambda p: _bad(p, poses=np.array([["a"] * 156] * 20)), "not numeric"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_raise_clear_errors_naming_the_file(tmp_path: Path, case: str) -> None:
    build, expected = BAD_FILES[case]
    path = build(tmp_path)
    with pytest.raises(MotionError) as info:
        load_motion(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MotionError, match="motion file not found"):
        load_motion(tmp_path / "nope_poses.npz")


# ------------------------------------------------------------------ discovery


def test_iter_motion_files_skips_subject_files_and_sorts(tmp_path: Path) -> None:
    write_smplh_poses(tmp_path / "CMU" / "02" / "02_01_poses.npz", num_frames=2)
    write_smplh_poses(tmp_path / "CMU" / "01" / "01_02_poses.npz", num_frames=2)
    write_smplh_poses(tmp_path / "CMU" / "01" / "01_01_poses.npz", num_frames=2)
    write_smplx_stageii(tmp_path / "KIT" / "3" / "walk_stageii.npz", num_frames=2)
    write_subject_files(tmp_path / "CMU" / "01")
    write_subject_files(tmp_path / "KIT" / "3")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_motion_files(tmp_path)]
    assert found == [
        "CMU/01/01_01_poses.npz",
        "CMU/01/01_02_poses.npz",
        "CMU/02/02_01_poses.npz",
        "KIT/3/walk_stageii.npz",
    ]


# ------------------------------------------------------------------ feat_p resolution

FEAT_P_LAYOUTS = [
    # (BABEL feat_p, where the file actually is)
    ("CMU/CMU/91/91_48_poses.npz", "CMU/CMU/91/91_48_poses.npz"),  # doubled, verbatim
    ("CMU/CMU/91/91_48_poses.npz", "CMU/91/91_48_poses.npz"),  # flat
    ("BMLrub/BioMotionLab_NTroje/rub055/0020_lifting_heavy2_poses.npz", "BMLrub/rub055/0020_lifting_heavy2_poses.npz"),
    ("BMLrub/BioMotionLab_NTroje/rub055/a_poses.npz", "BioMotionLab_NTroje/rub055/a_poses.npz"),
    ("BMLrub/BioMotionLab_NTroje/rub055/a_poses.npz", "BMLrub/BMLrub/rub055/a_poses.npz"),
    ("MPIHDM05/MPI_HDM05/dg/HDM_dg_03-11_03_120_poses.npz", "MPI_HDM05/dg/HDM_dg_03-11_03_120_poses.npz"),
    ("MPIHDM05/MPI_HDM05/dg/HDM_dg_03-11_03_120_poses.npz", "HDM05/dg/HDM_dg_03-11_03_120_poses.npz"),
    ("MPIHDM05/MPI_HDM05/dg/x_poses.npz", "HDM05/MPI_HDM05/dg/x_poses.npz"),
    ("DFaust67/DFaust_67/50002/50002_knees_poses.npz", "DFaust_67/DFaust_67/50002/50002_knees_poses.npz"),
    ("DFaust67/DFaust_67/50002/50002_knees_poses.npz", "DFaust/50002/50002_knees_poses.npz"),
    ("MPILimits/MPI_Limits/03099/lar1_poses.npz", "PosePrior/03099/lar1_poses.npz"),
    ("MPImosh/MPI_mosh/00008/misc_poses.npz", "MoSh/00008/misc_poses.npz"),
    ("SSMsynced/SSM_synced/20160330_03333/ankles_poses.npz", "SSM/20160330_03333/ankles_poses.npz"),
    (
        "TCDhandMocap/TCD_handMocap/ExperimentDatabase/BottleA_poses.npz",
        "TCDHands/ExperimentDatabase/BottleA_poses.npz",
    ),
    ("Transitionsmocap/Transitions_mocap/mazen_c3d/airkick_poses.npz", "Transitions/mazen_c3d/airkick_poses.npz"),
    (
        "EyesJapanDataset/Eyes_Japan_Dataset/aita/turn-05-turn-aita_poses.npz",
        "EyesJapanDataset/aita/turn-05-turn-aita_poses.npz",
    ),
    ("EKUT/EKUT/265/SLPD102_poses.npz", "EKUT/265/SLPD102_poses.npz"),
    (
        "ACCAD/ACCAD/Female1General_c3d/A10 - lie to crouch_poses.npz",
        "ACCAD/Female1General_c3d/A10 - lie to crouch_poses.npz",
    ),
    ("KIT/KIT/3/walking_upstairs06_poses.npz", "KIT/3/walking_upstairs06_stageii.npz"),  # SMPL-X release
]


@pytest.mark.parametrize("feat_p, on_disk", FEAT_P_LAYOUTS)
def test_resolve_feat_p_layouts(tmp_path: Path, feat_p: str, on_disk: str) -> None:
    (tmp_path / on_disk).parent.mkdir(parents=True)
    (tmp_path / on_disk).write_bytes(b"")
    assert resolve_feat_p(tmp_path, feat_p) == tmp_path / on_disk


def test_resolve_feat_p_prefers_the_verbatim_path(tmp_path: Path) -> None:
    for rel in ("CMU/CMU/01/01_01_poses.npz", "CMU/01/01_01_poses.npz"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert resolve_feat_p(tmp_path, "CMU/CMU/01/01_01_poses.npz") == tmp_path / "CMU/CMU/01/01_01_poses.npz"


def test_resolve_feat_p_error_lists_every_path_tried(tmp_path: Path) -> None:
    feat_p = "BMLrub/BioMotionLab_NTroje/rub001/0000_treadmill_norm_poses.npz"
    with pytest.raises(MotionError) as info:
        resolve_feat_p(tmp_path, feat_p)
    message = str(info.value)
    assert feat_p in message and "motion file not found" in message
    for candidate in feat_p_candidates(feat_p):
        assert str(tmp_path / candidate) in message
    assert str(tmp_path / "BMLrub/rub001/0000_treadmill_norm_poses.npz") in message
    assert str(tmp_path / "BioMotionLab_NTroje/BioMotionLab_NTroje/rub001/0000_treadmill_norm_poses.npz") in message


@pytest.mark.parametrize("feat_p", ["../outside/a_poses.npz", "/etc/a_poses.npz", "CMU/../../a_poses.npz"])
def test_resolve_feat_p_stays_inside_the_root(tmp_path: Path, feat_p: str) -> None:
    with pytest.raises(MotionError, match="inside the AMASS root"):
        resolve_feat_p(tmp_path / "amass", feat_p)

"""AMARV password: the published script's algorithm, any folder layout, clear errors."""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from synthact.sources.amarv_password import MissingAmassFiles, amarv_password, find_password_files

# The published script's list (SynthAct-Datasets amarv/generate_key.sh), typed in
# independently of the module under test.
SCRIPT_FILES = [
    "ACCAD/ACCAD/Female1General_c3d/A10 - lie to crouch_poses.npz",
    "BMLhandball/S01_Expert/shape.npz",
    "BMLmovi/BMLmovi/Subject_11_F_MoSh/shape.npz",
    "BMLrub/BioMotionLab_NTroje/rub001/0000_treadmill_norm_poses.npz",
    "CMU/CMU/01/01_01_poses.npz",
    "DanceDB/20120731_StefanosTheodorou/shape.npz",
    "DFaust_67/DFaust_67/50002/50002_chicken_wings_poses.npz",
    "EKUT/125/SLP101_poses.npz",
    "EyesJapanDataset/Eyes_Japan_Dataset/aita/accident-02-dodge fast-aita_poses.npz",
    "HumanEva/S1/Box_1_poses.npz",
    "KIT/KIT/10/LeftTurn01_poses.npz",
    "MPI_HDM05/bk/HDM_bk_01-01_01_120_poses.npz",
    "MPI_Limits/03099/lar1_poses.npz",
    "MPI_mosh/00008/misc_poses.npz",
    "SFU/0005/0005_2FeetJump001_poses.npz",
    "SSM_synced/20160330_03333/ankles_poses.npz",
    "TCD_handMocap/ExperimentDatabase/BottleA_poses.npz",
    "TotalCapture/TotalCapture/s1/acting1_poses.npz",
    "Transitions_mocap/mazen_c3d/airkick_jumpingtwist360_poses.npz",
]

# The same files in another user's layout: no doubled top folder, current names.
OTHER_LAYOUT = {
    SCRIPT_FILES[0]: "ACCAD/Female1General_c3d/A10 - lie to crouch_poses.npz",
    "CMU/CMU/01/01_01_poses.npz": "CMU/01/01_01_poses.npz",
    "DFaust_67/DFaust_67/50002/50002_chicken_wings_poses.npz": "DFaust/50002/50002_chicken_wings_poses.npz",
    "MPI_HDM05/bk/HDM_bk_01-01_01_120_poses.npz": "HDM05/HDM05/bk/HDM_bk_01-01_01_120_poses.npz",
    "BMLhandball/S01_Expert/shape.npz": "BMLhandball/BMLhandball/S01_Expert/shape.npz",
    "TCD_handMocap/ExperimentDatabase/BottleA_poses.npz": "TCDHands/ExperimentDatabase/BottleA_poses.npz",
}


def _contents(i: int) -> bytes:
    # Random bytes, seeded per file; one file spans several read chunks.
    size = 3 * (1 << 20) + 17 if i == 4 else 1000 + 97 * i
    return random.Random(i).randbytes(size)


def _build(root: Path, layout: dict[str, str] | None = None) -> None:
    for i, listed in enumerate(SCRIPT_FILES):
        path = root / (layout or {}).get(listed, listed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_contents(i))


def _expected_password() -> str:
    digests = "".join(hashlib.md5(_contents(i)).hexdigest() for i in range(len(SCRIPT_FILES)))
    return hashlib.md5(digests.encode()).hexdigest()


def test_password_matches_independent_computation(tmp_path: Path) -> None:
    _build(tmp_path)
    password = amarv_password(tmp_path)
    assert password == _expected_password()
    assert len(password) == 32 and password == password.lower()


@pytest.mark.skipif(shutil.which("md5sum") is None, reason="needs coreutils md5sum")
def test_password_matches_the_shell_algorithm(tmp_path: Path) -> None:
    # The published script's pipeline: md5sum each file, join the digests, md5sum the string.
    _build(tmp_path)
    quoted = " ".join(f"'{p}'" for p in SCRIPT_FILES)
    script = f"for f in {quoted}; do md5sum \"$f\" | awk '{{print $1}}'; done | tr -d '\\n' | md5sum"
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert amarv_password(tmp_path) == out.stdout.split()[0]


def test_other_layout_gives_the_same_password(tmp_path: Path) -> None:
    _build(tmp_path, OTHER_LAYOUT)
    assert amarv_password(tmp_path) == _expected_password()
    found = find_password_files(tmp_path)
    assert found[4] == tmp_path / "CMU/01/01_01_poses.npz"
    assert found[6] == tmp_path / "DFaust/50002/50002_chicken_wings_poses.npz"


def test_missing_files_are_all_named_with_the_subset_to_download(tmp_path: Path) -> None:
    _build(tmp_path)
    (tmp_path / SCRIPT_FILES[6]).unlink()  # DFaust_67
    (tmp_path / SCRIPT_FILES[1]).unlink()  # BMLhandball shape.npz
    shutil.rmtree(tmp_path / "MPI_HDM05")
    with pytest.raises(MissingAmassFiles) as info:
        amarv_password(tmp_path)
    message = str(info.value)
    for listed in (SCRIPT_FILES[1], SCRIPT_FILES[6], SCRIPT_FILES[11]):
        assert listed in message
    assert "download the SMPL+H release of subset 'DFaust' (DFaust_67)" in message
    assert "download the SMPL+H release of subset 'HDM05' (MPI_HDM05)" in message
    assert "download the SMPL+H release of subset 'BMLhandball'" in message
    assert message.count("download the SMPL+H release") == 3  # only the subsets that lack files
    assert [m.subset for m in info.value.missing] == ["BMLhandball", "DFaust", "HDM05"]


def test_smplx_file_does_not_count(tmp_path: Path) -> None:
    # The SMPL-X release has other bytes, so it must not stand in for the SMPL+H file.
    _build(tmp_path)
    cmu = tmp_path / SCRIPT_FILES[4]
    cmu.rename(cmu.with_name("01_01_stageii.npz"))
    with pytest.raises(MissingAmassFiles, match=r"CMU/CMU/01/01_01_poses\.npz"):
        amarv_password(tmp_path)

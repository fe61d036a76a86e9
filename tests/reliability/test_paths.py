"""Paths named by input files stay inside their root: backslash, '..', absolute and
symlink escapes are refused, and no byte of the outside file reaches a message."""

from __future__ import annotations

import json
import os

import pytest

from synthact.safe_names import UnsafePathError, contained_path
from synthact.sources.amass import MotionError, resolve_feat_p
from synthact.sources.babel import LabelError, load_babel_file
from tests.fixtures.amass_babel import (
    dense_entry,
    label,
    write_babel,
    write_smplh_poses,
)

SECRET = b"TOP-SECRET-BYTES-0123456789"


@pytest.fixture
def layout(tmp_path):
    """An AMASS root with one good file, and an outside folder holding a file with a secret."""
    root = tmp_path / "data" / "amass"
    write_smplh_poses(root / "CMU" / "01" / "01_01_poses.npz", num_frames=10)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "X99_000_poses.npz").write_bytes(SECRET)
    return root, outside


ESCAPES = [
    "..\\..\\outside\\X99_000_poses.npz",  # the reported case: backslashes become '..' later
    "CMU\\..\\..\\..\\outside\\X99_000_poses.npz",
    "../../outside/X99_000_poses.npz",
    "CMU/../../../outside/X99_000_poses.npz",
    "\\etc\\passwd",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "..\\..\\..\\..\\..\\..\\..\\..\\..\\etc\\passwd",
]


@pytest.mark.parametrize("feat_p", ESCAPES)
def test_escaping_feat_p_is_refused_before_any_file_is_opened(layout, feat_p):
    root, _ = layout
    with pytest.raises(MotionError) as caught:
        resolve_feat_p(root, feat_p)
    message = str(caught.value)
    assert "feat_p" in message and ("'..'" in message or "absolute" in message)
    assert SECRET.decode() not in message and "root:" not in message  # nothing of /etc/passwd either


def test_symlink_out_of_the_root_is_refused(layout):
    root, outside = layout
    os.symlink(outside, root / "CMU" / "evil")
    with pytest.raises(MotionError, match="resolves outside") as caught:
        resolve_feat_p(root, "CMU/evil/X99_000_poses.npz")
    assert SECRET.decode() not in str(caught.value)
    # A symlink that stays inside the root is fine.
    os.symlink(root / "CMU" / "01", root / "CMU" / "alias")
    assert resolve_feat_p(root, "CMU/alias/01_01_poses.npz").name == "01_01_poses.npz"


def test_good_feat_p_with_backslashes_still_resolves(layout):
    root, _ = layout
    assert resolve_feat_p(root, "CMU\\01\\01_01_poses.npz") == root / "CMU" / "01" / "01_01_poses.npz"


def test_contained_path_names_what_it_refused(tmp_path):
    with pytest.raises(UnsafePathError, match=r"^split list .*'\.\.'"):
        contained_path(tmp_path, "a\\..\\..\\b", "split list")


def test_babel_refuses_escaping_feat_p_strict_and_keeps_the_good_sequence_lenient(tmp_path, layout):
    path = write_babel(
        tmp_path / "babel" / "train.json",
        [
            dense_entry(1, "CMU/01/01_01_poses.npz", 1.0, [label("s1", ["walk"])]),
            dense_entry(2, "..\\..\\outside\\X99_000_poses.npz", 1.0, [label("s2", ["walk"])]),
        ],
    )
    with pytest.raises(LabelError, match=r"sid 2: feat_p '.*': must be a path inside the AMASS root"):
        load_babel_file(path)
    errors: list[tuple[str, str]] = []
    kept = load_babel_file(path, on_error=lambda sid, exc: errors.append((sid, str(exc))))
    assert [s.sid for s in kept] == ["1"]
    assert [sid for sid, _ in errors] == ["2"]
    assert json.dumps(errors).count("outside") == 1  # the name only, once; never file content

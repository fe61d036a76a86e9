"""The dataset readers under the same rules as the estimates stage (``synthact.safe_names``,
``synthact.text_inputs``): a BABEL sid that could leave a folder, text files with a
byte-order mark or in another encoding, and links out of the AMASS and skeleton roots.
Real files, read by the real readers.
"""

from __future__ import annotations

import json
import os

import pytest

from synthact.fitting.skeleton_sources import DATASETS
from synthact.sources.amass import find_motion_files
from synthact.sources.amass_check import check_amass
from synthact.sources.babel import LabelError, load_babel_file
from synthact.sources.protocols import SampleListError, read_sample_list
from tests.fixtures.amass_babel import dense_entry, label, write_babel, write_smplh_poses

BOM = b"\xef\xbb\xbf"
NTU_SAMPLE = "S001C001P001R001A001"


def test_a_babel_sid_that_could_leave_a_folder_is_refused_and_the_rest_kept(tmp_path):
    entries = [dense_entry(1, "CMU/01/01_01_poses.npz", 1.0, [label("s1", ["walk"])])]
    evil = dense_entry(2, "CMU/01/01_02_poses.npz", 1.0, [label("s2", ["walk"])])
    path = tmp_path / "train.json"
    document = {"1": entries[0], "../../sequence_x": evil}  # AMARV exports name a folder sequence_<sid>
    path.write_text(json.dumps(document))
    with pytest.raises(LabelError, match=r"train\.json: sid '\.\./\.\./sequence_x' holds a path separator"):
        load_babel_file(path)
    errors: list[str] = []
    kept = load_babel_file(path, on_error=lambda sid, exc: errors.append(sid))
    assert [s.sid for s in kept] == ["1"] and errors == ["../../sequence_x"]


def test_a_babel_category_with_a_line_break_is_refused(tmp_path):
    path = write_babel(tmp_path / "train.json", [dense_entry(1, "CMU/01/01_01_poses.npz", 1.0, [label("s", ["a\nb"])])])
    with pytest.raises(LabelError, match=r"sid 1.*category 'a\\nb' holds a control character"):
        load_babel_file(path)


def test_text_inputs_with_a_byte_order_mark_are_read(tmp_path):
    babel = write_babel(
        tmp_path / "train.json", [dense_entry(1, "CMU/01/01_01_poses.npz", 1.0, [label("s", ["walk"])])]
    )
    babel.write_bytes(BOM + babel.read_bytes())
    assert [s.sid for s in load_babel_file(babel)] == ["1"]  # before: "not a readable JSON file"
    listing = tmp_path / "list.txt"
    listing.write_bytes(BOM + f"{NTU_SAMPLE}\n".encode())
    assert read_sample_list(listing) == {NTU_SAMPLE}  # before: the BOM made the first name prose, dropped


def test_text_inputs_in_another_encoding_name_the_file_and_the_fix(tmp_path):
    babel = tmp_path / "train.json"
    babel.write_bytes('{"1": {"feat_p": "caf\u00e9"}}'.encode("latin-1"))
    with pytest.raises(LabelError) as caught:
        load_babel_file(babel)
    assert str(caught.value) == (
        f"{babel}: line 1: byte 0xe9 is not UTF-8 text; re-save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')"
    )
    listing = tmp_path / "list.txt"
    listing.write_bytes(f"# liste d'\u00e9chantillons\n{NTU_SAMPLE}\n".encode("cp1252"))
    with pytest.raises(SampleListError, match=rf"^{listing}: line 1: byte 0xe9 is not UTF-8 text; re-save"):
        read_sample_list(listing)


@pytest.fixture
def amass_with_links(tmp_path):
    root, outside = tmp_path / "amass", tmp_path / "outside"
    write_smplh_poses(root / "CMU" / "01" / "01_01_poses.npz", 12)
    write_smplh_poses(outside / "02" / "02_01_poses.npz", 12)
    os.symlink(outside / "02" / "02_01_poses.npz", root / "CMU" / "01" / "01_02_poses.npz")
    os.symlink(outside / "02", root / "CMU" / "02")
    os.symlink(root / "CMU" / "01" / "01_01_poses.npz", root / "CMU" / "01" / "01_03_poses.npz")  # stays inside
    return root


def test_amass_listing_refuses_links_out_of_the_root_and_names_them(amass_with_links):
    root = amass_with_links
    walk = find_motion_files(root)
    assert [p.relative_to(root).as_posix() for p in walk.files] == ["CMU/01/01_01_poses.npz", "CMU/01/01_03_poses.npz"]
    assert {e["path"]: "resolves outside" in e["reason"] for e in walk.skipped} == {
        str(root / "CMU" / "01" / "01_02_poses.npz"): True,
        str(root / "CMU" / "02"): True,
    }
    report = check_amass(root, progress=None)  # before: the outside file was opened and counted
    assert report.total_sequences == 2
    assert [str(p.path.relative_to(root)) for p in report.problems] == ["CMU/01/01_02_poses.npz", "CMU/02"]


def test_skeleton_listing_refuses_links_out_of_the_root(tmp_path):
    root, outside = tmp_path / "skeletons", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / f"{NTU_SAMPLE}.skeleton").write_text("0\n")
    (outside / "S001C001P001R001A002.skeleton").write_text("0\n")
    os.symlink(outside / "S001C001P001R001A002.skeleton", root / "S001C001P001R001A002.skeleton")
    walk = DATASETS["ntu"].walk(root)
    assert [p.name for p in walk.files] == [f"{NTU_SAMPLE}.skeleton"]
    (skipped,) = walk.skipped
    assert skipped["path"].endswith("A002.skeleton") and "resolves outside" in skipped["reason"]

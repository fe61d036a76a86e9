"""The published evaluation protocols of NTU RGB+D 60/120 and Toyota Smarthome.

Each protocol is a function from a parsed sample name to ``"train"``, ``"val"``,
``"test"`` or ``None`` (the sample is not part of that protocol), so the synthetic
datasets inherit the originals' splits clip for clip.

Sources: the NTU RGB+D papers (subject and camera lists), the Toyota Smarthome paper
(subjects and cameras); the Smarthome skeleton
baseline ``YangDi666/2s-AGCN-For-Daily-Living`` (the 19 cross-view classes, its
``action_cv``; cameras train 1 / 1,3,4,6,7, val 5, test 2); the I3D baseline's released split
files ``srijandas07/i3d_smarthome/splits``: ``validation_CS.txt`` holds subjects 19 and 25
only (in the ~70 % of the file we read), which the train file then lacks, so the
cross-subject validation set is those two training subjects. NTU has no official
validation split. Note that the 2s-AGCN script's CV2 branch tests the *subject* id against
the camera list (a bug upstream); we implement CV2 on cameras, as published.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from synthact.atomic import write_bytes
from synthact.errors import SynthActError
from synthact.sources.ntu import NtuSampleId, parse_ntu_name
from synthact.sources.smarthome import (
    SMARTHOME_CV_CLASSES,
    SmarthomeSampleId,
    UnlistedActivityError,
    parse_smarthome_name,
)
from synthact.text_inputs import TextEncodingError, read_text

SPLITS = ("train", "val", "test")

NTU60_XSUB_TRAIN_SUBJECTS: frozenset[int] = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
NTU120_XSUB_TRAIN_SUBJECTS: frozenset[int] = NTU60_XSUB_TRAIN_SUBJECTS | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86)
    + (89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
)
NTU60_XVIEW_TRAIN_CAMERAS: frozenset[int] = frozenset((2, 3))
NTU60_LAST_SETUP = 17  # NTU-60 is S001-S017 (A1-A60); NTU-120 adds S018-S032

SMARTHOME_CS_TRAIN_SUBJECTS: frozenset[int] = frozenset((3, 4, 6, 7, 9, 12, 13, 15, 17, 19, 25))
SMARTHOME_CS_VAL_SUBJECTS: frozenset[int] = frozenset((19, 25))  # from the released validation_CS.txt
SMARTHOME_CV1_CAMERAS = {"train": frozenset((1,)), "val": frozenset((5,)), "test": frozenset((2,))}
SMARTHOME_CV2_CAMERAS = {"train": frozenset((1, 3, 4, 6, 7)), "val": frozenset((5,)), "test": frozenset((2,))}


def _in_ntu60(sample: NtuSampleId) -> bool:
    return sample.setup <= NTU60_LAST_SETUP and sample.action <= 60


def ntu60_cross_subject(sample: NtuSampleId) -> str | None:
    """NTU-60 X-Sub: the 20 listed performers train, the others test."""
    if not _in_ntu60(sample):
        return None
    return "train" if sample.performer in NTU60_XSUB_TRAIN_SUBJECTS else "test"


def ntu60_cross_view(sample: NtuSampleId) -> str | None:
    """NTU-60 X-View: cameras 2 and 3 train, camera 1 tests."""
    if not _in_ntu60(sample):
        return None
    return "train" if sample.camera in NTU60_XVIEW_TRAIN_CAMERAS else "test"


def ntu120_cross_subject(sample: NtuSampleId) -> str | None:
    """NTU-120 X-Sub: the 53 listed performers train, the others test."""
    return "train" if sample.performer in NTU120_XSUB_TRAIN_SUBJECTS else "test"


def ntu120_cross_setup(sample: NtuSampleId) -> str | None:
    """NTU-120 X-Set: even setup ids train, odd ones test."""
    return "train" if sample.setup % 2 == 0 else "test"


def smarthome_cross_subject(
    sample: SmarthomeSampleId, val_subjects: Iterable[int] = SMARTHOME_CS_VAL_SUBJECTS
) -> str | None:
    """Smarthome CS (31 classes): 11 training subjects (of which ``val_subjects`` validate), rest test.

    Pass ``val_subjects=()`` to train on all 11, as the 2s-AGCN baseline does.
    """
    if sample.subject not in SMARTHOME_CS_TRAIN_SUBJECTS:
        return "test"
    return "val" if sample.subject in frozenset(val_subjects) else "train"


def _cross_view(sample: SmarthomeSampleId, cameras: dict[str, frozenset[int]]) -> str | None:
    if sample.activity not in SMARTHOME_CV_CLASSES:
        return None  # cross-view uses only the 19 classes seen from every view
    return next((split for split in SPLITS if sample.camera in cameras[split]), None)


def smarthome_cross_view_1(sample: SmarthomeSampleId) -> str | None:
    """Smarthome CV1 (19 classes): train camera 1, validate camera 5, test camera 2."""
    return _cross_view(sample, SMARTHOME_CV1_CAMERAS)


def smarthome_cross_view_2(sample: SmarthomeSampleId) -> str | None:
    """Smarthome CV2 (19 classes): train cameras 1, 3, 4, 6, 7; validate 5; test 2."""
    return _cross_view(sample, SMARTHOME_CV2_CAMERAS)


Protocol = Callable[..., "str | None"]
_NTU60 = {"ntu60_xsub": ntu60_cross_subject, "ntu60_xview": ntu60_cross_view}
_NTU120 = {"ntu120_xsub": ntu120_cross_subject, "ntu120_xset": ntu120_cross_setup}
PROTOCOLS: dict[str, dict[str, Protocol]] = {
    "ntu60": _NTU60,
    "ntu120": _NTU120,
    "ntu": {**_NTU60, **_NTU120},
    "smarthome": {
        "smarthome_cs": smarthome_cross_subject,
        "smarthome_cv1": smarthome_cross_view_1,
        "smarthome_cv2": smarthome_cross_view_2,
    },
}
_PARSERS: dict[str, Callable[[str | Path], NtuSampleId | SmarthomeSampleId]] = {
    "ntu60": parse_ntu_name,
    "ntu120": parse_ntu_name,
    "ntu": parse_ntu_name,
    "smarthome": parse_smarthome_name,
}


_SAMPLE_NAME = re.compile(
    r"S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}(?:\.skeleton)?"  # NTU RGB+D
    r"|[A-Za-z]+(?:\.[A-Za-z]+)?_p\d{2,}_r\d{2,}_v\d{2,}_c\d{2}(?:_pose3d)?(?:\.\w+)?"  # Toyota Smarthome
)


class SampleListError(SynthActError, ValueError):
    """A sample list holds a line that is neither a sample name nor part of its prose header."""


def read_sample_list(path: str | Path) -> set[str]:
    """Sample names, one a line (NTU's missing-skeleton lists, Smarthome's split lists).

    Blank and ``#`` lines are skipped, and so is prose *before* the first name:
    the official ``NTU_RGBD*_samples_with_missing_skeletons.txt`` open with two
    lines of text. After the first name, a line that is not one is an error
    (``path:line``), so a damaged list is not silently cut short.

    Raises:
        SampleListError: Unreadable file, or a stray line after the names began.
    """
    path = Path(path)
    try:
        lines = read_text(path).splitlines()
    except TextEncodingError as exc:
        raise SampleListError(str(exc)) from None
    except OSError as exc:
        raise SampleListError(f"{path}: cannot read sample list ({exc})") from None
    names: set[str] = set()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if _SAMPLE_NAME.fullmatch(text):
            names.add(text)
        elif names:
            shown = text if len(text) <= 60 else text[:60] + "..."
            raise SampleListError(f"{path}:{number}: not a sample name: {shown!r}")
    return names


def assign_splits(
    samples: Iterable[str | Path], dataset: str, exclude: Iterable[str] = ()
) -> dict[str, dict[str, list[str]]]:
    """Split sample names under every protocol of ``dataset``.

    Args:
        samples: Names or paths (``S001C001P001R001A001.skeleton``, ``Walk_p03_r00_v07_c04.mp4``).
        dataset: ``"ntu60"``, ``"ntu120"``, ``"ntu"`` (both) or ``"smarthome"``.
        exclude: Canonical names to leave out (e.g. NTU's samples with missing skeletons).

    Returns:
        ``{protocol: {"train": [...], "val": [...], "test": [...]}}`` of canonical names,
        sorted and without duplicates.

    Raises:
        ValueError: Unknown dataset, or a name the dataset's parser rejects. Names
            of Smarthome's unlisted activities (``Pour.Fromcup``) are left out of
            every protocol instead (``UnlistedActivityError``).
    """
    if dataset not in PROTOCOLS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(PROTOCOLS)}")
    skip = {sample.name for sample in _parse_known(exclude, dataset)}
    parsed = {sample.name: sample for sample in _parse_known(samples, dataset)}
    result: dict[str, dict[str, list[str]]] = {}
    for protocol, assign in PROTOCOLS[dataset].items():
        splits: dict[str, list[str]] = {split: [] for split in SPLITS}
        for name in sorted(parsed):
            split = None if name in skip else assign(parsed[name])
            if split is not None:
                splits[split].append(name)
        result[protocol] = splits
    return result


def _parse_known(names: Iterable[str | Path], dataset: str) -> list[NtuSampleId | SmarthomeSampleId]:
    """Parsed names; Smarthome's unlisted activities (``Pour.Fromcup``) are left out, not errors."""
    parsed = []
    for name in names:
        try:
            parsed.append(_PARSERS[dataset](name))
        except UnlistedActivityError:
            continue
    return parsed


def write_split_files(
    samples: Iterable[str | Path], out_dir: str | Path, dataset: str, exclude: Iterable[str] = ()
) -> dict[str, Path]:
    """Write one ``<protocol>.json`` per protocol: ``{protocol: {train, val, test}}``.

    Files are written to a temporary name and renamed, so a reader never sees half a file.
    Returns the path written per protocol. See ``assign_splits`` for the arguments.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for protocol, splits in assign_splits(samples, dataset, exclude).items():
        path = out_dir / f"{protocol}.json"
        write_bytes(path, (json.dumps({protocol: splits}, indent=1) + "\n").encode("utf-8"))
        written[protocol] = path
    return written

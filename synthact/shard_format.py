"""The shard's layout, declared once: every dataset and attribute, its dtype, shape and codec.

The writer (``shards/writer.py``), the reader (``consume/reader.py``), the
PyTorch dataset and the render task's encoder take their names from here, so a
modality is declared once and the four cannot drift apart; docs/FORMAT.md
lists the same names (a test compares them).

Order matters: the writer creates datasets in tuple order, and HDF5 lays the
file out in creation order, so reordering a tuple changes the shard's bytes.

Bottom floor: this module imports only the standard library and the codecs'
constants, so any stage may import it without pulling in h5py, torch or bpy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from synthact.codecs import depth as depth_codec
from synthact.codecs import normals as normals_codec

FORMAT_NAME = "synthact-shard"
FORMAT_VERSION = 4
READABLE_VERSIONS = (2, 3, 4)  # what consume/reader.py decodes; a new layout adds its number here
CHECKSUM_VERSION = 3  # from this version on, every RGB stream carries rgb/crc32 (per-packet CRC-32)
# From this version on, every per-person dataset (DatasetSpec.per_person) has a person axis P,
# in the source's body order: (T, P, ...) per frame, (P, ...) once per take. Older shards hold
# one person; the reader gives their arrays the same axis (P = 1), so consumers see one layout.
PERSON_AXIS_VERSION = 4


class Codec(enum.Enum):
    """How a dataset's values are stored (docs/FORMAT.md, Encodings)."""

    VIDEO = "video"  # a group: coded bitstream + packet index (codecs/storage.write_video)
    DEPTH = "depth"  # uint16 codes, one compressed chunk per frame, made by the render task
    NORMALS = "normals"  # octahedral codes, one compressed chunk per frame, made by the render task
    LABELS = "labels"  # uint8 ids, one compressed chunk per frame, made by the render task
    GZIP = "gzip"  # lossless, gzip + shuffle, one frame per chunk
    PLAIN = "plain"  # contiguous, no filter


CHUNKED_IMAGES = (Codec.DEPTH, Codec.NORMALS, Codec.LABELS)
ENCODING_ATTRIBUTE = "encoding"  # on every chunked image: how to decode it (codecs/depth.py, codecs/normals.py)
ENCODINGS = {Codec.DEPTH: depth_codec.ENCODING, Codec.NORMALS: normals_codec.ENCODING, Codec.LABELS: "uint8"}


class Derive(enum.Enum):
    """What the writer does to the render cache's field to get the dataset."""

    COPY = "copy"  # the field as cached, window by window
    NTU25 = "ntu25"  # NTU RGB+D's 25 joints selected from the 73 (sources/ntu.SMPLH_TO_NTU25)
    PER_FRAME = "per-frame"  # a per-window value repeated on every frame of the window
    ONCE = "once"  # a per-take value, from the take's first window
    PLAN = "plan"  # from the shard plan, not the render cache


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset (or, for RGB, group) of a take or view group."""

    name: str  # path inside its group: "depth", "ntu25/joints_cam"
    dtype: str  # numpy dtype as stored
    shape: str  # T: the take's frames; H, W: the image; B: stream bytes; P: packets
    codec: Codec
    field: str  # the render cache's window record field it comes from ("" for Derive.PLAN)
    derive: Derive = Derive.COPY
    channels: int = 0  # channels of the decoded image (C of (T, C, H, W)); 0: not an image
    per_person: bool = False  # one value per person: a person axis P (PERSON_AXIS_VERSION)

    @property
    def key(self) -> str:
        """The reader's name for it: one word, a subgroup joined with '_' ("ntu25_joints_cam")."""
        return self.name.replace("/", "_")

    @property
    def per_frame(self) -> bool:
        return self.shape.startswith("(T")

    @property
    def person_axis(self) -> int:
        """Where P sits: after T in a per-frame dataset, first in a per-take one."""
        return 1 if self.per_frame else 0

    @property
    def chunked_image(self) -> bool:
        return self.codec in CHUNKED_IMAGES


@dataclass(frozen=True)
class AttributeSpec:
    """One HDF5 attribute; ``json``: stored as a JSON string, which the reader decodes."""

    name: str
    json: bool = False


# --- per view: /takes/{take_id}/views/{view}/ --------------------------------------------

DEPTH = DatasetSpec("depth", "uint16", "(T, H, W)", Codec.DEPTH, "depth", channels=1)
NORMALS = DatasetSpec("normals", "uint8", "(T, H, W, 2)", Codec.NORMALS, "normals", channels=3)
MASK = DatasetSpec("mask", "uint8", "(T, H, W)", Codec.LABELS, "mask", channels=1)
PARTS = DatasetSpec("parts", "uint8", "(T, H, W)", Codec.LABELS, "parts", channels=1)
# 0 off every person, k + 1 on person k (body order): disjoint masks, the front-most body wins.
INSTANCES = DatasetSpec("instances", "uint8", "(T, H, W)", Codec.LABELS, "instances", channels=1)
KEYPOINTS_2D = DatasetSpec("keypoints_2d", "float32", "(T, P, 73, 2)", Codec.GZIP, "keypoints_2d", per_person=True)
KEYPOINTS_VISIBLE = DatasetSpec(
    "keypoints_visible", "bool", "(T, P, 73)", Codec.GZIP, "keypoints_visible", per_person=True
)
JOINTS_CAM = DatasetSpec("joints_cam", "float32", "(T, P, 73, 3)", Codec.GZIP, "joints_cam", per_person=True)
BBOX = DatasetSpec("bbox", "float32", "(T, P, 4)", Codec.GZIP, "bbox", per_person=True)
R = DatasetSpec("R", "float64", "(T, 3, 3)", Codec.GZIP, "R")
T = DatasetSpec("t", "float64", "(T, 3)", Codec.GZIP, "t")
NTU25_KEYPOINTS_2D = DatasetSpec(
    "ntu25/keypoints_2d", "float32", "(T, P, 25, 2)", Codec.GZIP, "keypoints_2d", Derive.NTU25, per_person=True
)
NTU25_KEYPOINTS_VISIBLE = DatasetSpec(
    "ntu25/keypoints_visible", "bool", "(T, P, 25)", Codec.GZIP, "keypoints_visible", Derive.NTU25, per_person=True
)
NTU25_JOINTS_CAM = DatasetSpec(
    "ntu25/joints_cam", "float32", "(T, P, 25, 3)", Codec.GZIP, "joints_cam", Derive.NTU25, per_person=True
)
K = DatasetSpec("K", "float64", "(T, 3, 3)", Codec.GZIP, "K", Derive.PER_FRAME)
RGB = DatasetSpec("rgb", "uint8", "(B,)", Codec.VIDEO, "rgb", channels=3)

VIEW_DATASETS = (
    DEPTH,
    NORMALS,
    MASK,
    PARTS,
    INSTANCES,
    KEYPOINTS_2D,
    KEYPOINTS_VISIBLE,
    JOINTS_CAM,
    BBOX,
    R,
    T,
    NTU25_KEYPOINTS_2D,
    NTU25_KEYPOINTS_VISIBLE,
    NTU25_JOINTS_CAM,
    K,
    RGB,
)
IMAGE_DATASETS = tuple(spec for spec in VIEW_DATASETS if spec.chunked_image)

VIDEO_DATASETS = ("data", "offsets", "pts", "keyframe", "crc32")  # inside rgb/ (codecs/storage.py)
VIDEO_ATTRIBUTES = tuple(AttributeSpec(n) for n in ("codec", "width", "height")) + (AttributeSpec("settings", True),)

# Copied from the view's plan (takes/plan.ViewPlan) under the same names.
VIEW_PLAN_ATTRIBUTES = tuple(AttributeSpec(name) for name in ("seed", "azimuth_deg", "height_m", "camera_motion"))
VIEW_ATTRIBUTES = (
    *VIEW_PLAN_ATTRIBUTES,
    AttributeSpec("distance_m"),
    AttributeSpec("placement", json=True),
    AttributeSpec("image_size"),
)

# --- per take: /takes/{take_id}/ ----------------------------------------------------------

SMPLH_GROUP = "smplh"  # the body model's parameters; its attributes: SMPLH_ATTRIBUTES

FRAMES = DatasetSpec("frames", "int64", "(T,)", Codec.PLAIN, "", Derive.PLAN)
BETAS = DatasetSpec(f"{SMPLH_GROUP}/betas", "float32", "(P, 16)", Codec.PLAIN, "betas", Derive.ONCE, per_person=True)
BETAS_USED = DatasetSpec(
    f"{SMPLH_GROUP}/betas_used", "float32", "(P, 16)", Codec.PLAIN, "betas_used", Derive.ONCE, per_person=True
)
SHAPE_NOISE = DatasetSpec(
    f"{SMPLH_GROUP}/shape_noise", "float32", "(P, 16)", Codec.PLAIN, "shape_noise", Derive.ONCE, per_person=True
)
SOURCE_FRAMES = DatasetSpec("source_frames", "int64", "(T,)", Codec.PLAIN, "source_frames")
JOINTS_WORLD = DatasetSpec("joints_world", "float32", "(T, P, 73, 3)", Codec.GZIP, "joints_world", per_person=True)
NTU25_JOINTS_WORLD = DatasetSpec(
    "ntu25/joints_world", "float32", "(T, P, 25, 3)", Codec.GZIP, "joints_world", Derive.NTU25, per_person=True
)
POSES = DatasetSpec(f"{SMPLH_GROUP}/poses", "float32", "(T, P, 156)", Codec.GZIP, "poses", per_person=True)
TRANS = DatasetSpec(f"{SMPLH_GROUP}/trans", "float32", "(T, P, 3)", Codec.GZIP, "trans", per_person=True)
# False where a body is absent from the source (a gap in a track): its joints are NaN there.
PRESENT = DatasetSpec("present", "bool", "(T, P)", Codec.GZIP, "present", per_person=True)

TAKE_DATASETS = (
    FRAMES,
    BETAS,
    BETAS_USED,
    SHAPE_NOISE,
    SOURCE_FRAMES,
    JOINTS_WORLD,
    NTU25_JOINTS_WORLD,
    POSES,
    TRANS,
    PRESENT,
)

# Copied from the take record (takes/records.Take) under the same names.
_TAKE_RECORD_NAMES = "sequence_key source sequence_id split repetition fps source_fps num_sequence_frames"
_TAKE_RECORD_NAMES += " duration_s gender path_radius heading_deg num_frames"
TAKE_RECORD_ATTRIBUTES = tuple(AttributeSpec(name) for name in _TAKE_RECORD_NAMES.split())
TAKE_ATTRIBUTES = (
    *TAKE_RECORD_ATTRIBUTES,
    AttributeSpec("spans", json=True),
    AttributeSpec("segments", json=True),
    AttributeSpec("appearance_seed"),
    AttributeSpec("appearance", json=True),
    AttributeSpec("path_center"),
    AttributeSpec("rig", json=True),
    AttributeSpec("camera_motion"),
    AttributeSpec("num_persons"),
    AttributeSpec("persons", json=True),  # one entry per body: source, gender, ground_offset_m, look
)
GROUND_OFFSET = AttributeSpec("ground_offset_m")
SMPLH_ATTRIBUTES = (GROUND_OFFSET,)  # on the take's smplh/ group

# --- per file: / ----------------------------------------------------------------------------

TAKE_IDS = "index/take_ids"  # the shard's take ids in order, variable-length UTF-8
TAKES_GROUP = "takes"
VIEWS_GROUP = "views"
FORMAT_VERSION_ATTRIBUTE = AttributeSpec("format_version")
VIEWS_ATTRIBUTE = AttributeSpec("views", json=True)
FILE_ATTRIBUTES = (
    AttributeSpec("format"),
    FORMAT_VERSION_ATTRIBUTE,
    AttributeSpec("generator_version"),
    AttributeSpec("shard"),
    AttributeSpec("split"),
    AttributeSpec("num_takes"),
    AttributeSpec("num_frames"),
    VIEWS_ATTRIBUTE,
    AttributeSpec("joint_names", json=True),
    AttributeSpec("part_names", json=True),
    AttributeSpec("software", json=True),
    AttributeSpec("render_key"),  # given by the merge step (extra attributes)
    AttributeSpec("seed"),  # given by the merge step (extra attributes)
)


def take_path(take_id: str) -> str:
    return f"{TAKES_GROUP}/{take_id}"


def view_path(take_id: str, view: str) -> str:
    return f"{TAKES_GROUP}/{take_id}/{VIEWS_GROUP}/{view}"


def per_person_keys(specs: tuple[DatasetSpec, ...]) -> tuple[str, ...]:
    """The reader's names of the specs that carry a person axis."""
    return tuple(spec.key for spec in specs if spec.per_person)


def by_key(specs: tuple[DatasetSpec, ...]) -> dict[str, DatasetSpec]:
    """The specs by the reader's names."""
    return {spec.key: spec for spec in specs}


def json_attributes(specs: tuple[AttributeSpec, ...]) -> tuple[str, ...]:
    return tuple(spec.name for spec in specs if spec.json)

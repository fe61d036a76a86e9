"""The dataset card: ``OUTPUT_DIR/README.md``, what a person reads first about a run.

Why: a folder of shards says nothing to whoever receives it. The card is written
with the manifest, in the style of a Hugging Face dataset card (YAML front
matter, then prose and tables): what the dataset is, where its motion and labels
come from and under which licences, the config and seed that made it, counts
per split and class, the modalities and how each is encoded, how to load it, and
the checksums of every file. It is made from the run's files (the manifest's
entries, the class tables, the config, and each shard's take attributes for
the persons per take) only, so the same run gives the same card, and the
manifest lists it with its own checksum.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import h5py

from synthact import atomic
from synthact.shard_format import TAKES_GROUP

CARD_NAME = "README.md"

# What each motion source is, and whose terms govern a dataset rendered from it.
SOURCES: dict[str, str] = {
    "demo": (
        "SynthAct's built-in inputs: a body model, motions and BABEL-style labels that SynthAct generates "
        "itself in the real file formats. No third-party data; MIT, as SynthAct's code."
    ),
    "amass": (
        "Motion: AMASS (SMPL+H G), https://amass.is.tue.mpg.de, under the AMASS licence (non-commercial "
        "research). Labels: BABEL, https://babel.is.tue.mpg.de, under the BABEL licence. Body model: SMPL-H "
        "(MANO), https://mano.is.tue.mpg.de, under its licence. None of them may be redistributed; a dataset "
        "rendered from them stays under their terms."
    ),
    "ntu": (
        "Motion: SMPL-H fitted to the 3D skeletons of NTU RGB+D / NTU RGB+D 120 (ROSE Lab, NTU Singapore), "
        "under its release agreement (non-commercial research; no redistribution). Body model: SMPL-H (MANO) "
        "under its licence."
    ),
    "smarthome": (
        "Motion: SMPL-H fitted to the 3D skeletons of Toyota Smarthome (Inria / Toyota Motor Europe), under "
        "its licence (non-commercial research; no redistribution). Body model: SMPL-H (MANO) under its licence."
    ),
    "estimates": (
        "Motion: 3D human pose estimates (WHAM, GVHMR, 4D-Humans/PHALP, VIBE, TRAM or SLAHMR outputs) of "
        "videos, converted to SMPL-H. The videos' own terms, and those of the estimator and its body model, "
        "govern the result. Body model: SMPL-H (MANO) under its licence."
    ),
}
BACKGROUNDS = "Backgrounds: the HDRIs that ship with Blender, CC0."
MODALITIES = (
    ("rgb", "colour, sRGB", "H.264 per take and view (or AV1, or JPEG per frame), keyframe index"),
    ("depth", "distance along the optical axis, m", "uint16 codes: mm to 60 m, log band to 1000 m; 0 = no hit"),
    ("mask", "person pixels (every person)", "uint8, lossless"),
    ("instances", "which person each pixel shows: 0 none, k + 1 person k", "uint8, lossless"),
    ("parts", "body-part id per pixel (the front-most body)", "uint8, lossless; 0 off every person"),
    ("normals", "camera-frame surface normals", "octahedral codes, 2 x uint8 (or uint16)"),
    ("keypoints_2d / keypoints_visible", "73 joints per person in pixels, visibility", "float32 / bool, lossless"),
    ("joints_cam", "73 joints in camera coordinates, m", "float32, lossless"),
    ("ntu25/*", "NTU RGB+D's 25 joints: 2D, visibility, 3D", "float32 / bool, lossless"),
    ("bbox, K, R, t", "box per person; intrinsics and extrinsics per frame", "float32 / float64"),
)


class Listing(Protocol):
    """What the card reads of the manifest (``shards.manifest.Manifest``)."""

    num_takes: int
    num_frames: int
    views: list[str]
    splits: dict[str, int]
    render_key: str
    generator_version: str

    def files(self) -> Sequence[Any]: ...


def source_of(config: Mapping[str, Any]) -> str:
    """The key of ``SOURCES`` this run's motion came from."""
    if config.get("demo", {}).get("enabled"):
        return "demo"
    return str(config.get("motion", {}).get("source", "amass"))


def card_text(output_dir: Path, listing: Listing, config: Mapping[str, Any]) -> str:
    """The whole card, from the manifest's entries, the class tables and the config."""
    name = output_dir.name
    tables = _class_tables(output_dir, listing)
    parts = [
        _front_matter(name, listing, config, tables),
        f"# SynthAct dataset `{name}`\n",
        _what_it_is(listing, config, persons_per_take(output_dir, listing)),
        "## Sources and licences\n\n" + SOURCES.get(source_of(config), SOURCES["amass"]) + f"\n\n{BACKGROUNDS}\n",
        _configuration(config, listing),
        _splits_and_classes(listing, tables),
        _modalities(),
        _loading(name, tables),
        _checksums(listing),
    ]
    return "\n".join(parts)


def write_card(output_dir: Path, listing: Listing, config: Mapping[str, Any]) -> Path:
    """Write ``OUTPUT_DIR/README.md`` atomically; returns its path."""
    path = output_dir / CARD_NAME
    atomic.write_text(path, card_text(output_dir, listing, config))
    return path


def _class_tables(output_dir: Path, listing: Listing) -> dict[str, dict[str, Any]]:
    """protocol -> its ``classes.json``, in the manifest's order (the first is the readers' default)."""
    tables: dict[str, dict[str, Any]] = {}
    for entry in listing.files():
        if getattr(entry, "protocol", None) and str(entry.path).endswith("classes.json"):
            tables[entry.protocol] = json.loads((output_dir / entry.path).read_text())
    return tables


def persons_per_take(output_dir: Path, listing: Listing) -> Counter[int]:
    """Number of persons -> takes with that many, from the take attributes of every shard the manifest lists.

    A take without ``num_persons`` (a shard written before the person axis) holds one.
    """
    counts: Counter[int] = Counter()
    for entry in listing.files():
        path = output_dir / entry.path
        if not str(entry.path).endswith(".h5") or not path.is_file():
            continue
        with h5py.File(path, "r") as shard:
            counts.update(int(take.attrs.get("num_persons", 1)) for take in shard[TAKES_GROUP].values())
    return counts


def _persons_line(counts: Counter[int]) -> str:
    if not counts:
        return ""
    parts = [
        f"{takes} {'take' if takes == 1 else 'takes'} of {n} {'person' if n == 1 else 'persons'}"
        for n, takes in sorted(counts.items())
    ]
    return f"- persons per take: {', '.join(parts)}\n"


def _front_matter(
    name: str, listing: Listing, config: Mapping[str, Any], tables: Mapping[str, Mapping[str, Any]]
) -> str:
    licence = "mit" if source_of(config) == "demo" else "other"
    lines = [
        "---",
        f"pretty_name: SynthAct {name}",
        f"license: {licence}",
        "task_categories: [video-classification]",
        "tags: [synthetic, human-action-recognition, multi-view, depth, pose, smpl-h]",
        f"size_categories: [{_size_category(sum(_clips(t) for t in tables.values()))}]",
        f"synthact_render_key: {listing.render_key}",
        "---",
        "",
    ]
    return "\n".join(lines)


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def _clips(table: Mapping[str, Any]) -> int:
    return sum(sum(per_class.values()) for per_class in table.get("counts", {}).values())


def _what_it_is(listing: Listing, config: Mapping[str, Any], persons: Counter[int]) -> str:
    render, clips = config.get("render", {}), config.get("clips", {})
    size = f"{render.get('width', '?')}x{render.get('height', '?')}"
    return (
        "Synthetic, labelled, multi-view human action clips made by SynthAct: human motion on a SMPL-H body, "
        "rendered with Blender from every view, with per-frame RGB, depth, person mask, body parts, normals, "
        "2D/3D keypoints, boxes and cameras, and action labels per clip.\n\n"
        f"- {listing.num_takes} takes (one motion sequence x one repetition), {listing.num_frames} frames per view, "
        f"at {clips.get('fps', '?')} fps, {size} pixels\n"
        f"- {len(listing.views)} views: {', '.join(listing.views)}\n"
        f"{_persons_line(persons)}"
        f"- preset: {config.get('preset', 'none')}; made by SynthAct {listing.generator_version}\n"
    )


def _configuration(config: Mapping[str, Any], listing: Listing) -> str:
    render = config.get("render", {})
    keys = [
        ("seed", config.get("seed")),
        ("preset", config.get("preset", "none")),
        ("motion.source", source_of(config)),
        ("clips.fps", config.get("clips", {}).get("fps")),
        ("labels.protocols", ", ".join(config.get("labels", {}).get("protocols", []))),
        ("render.engine / quality", f"{render.get('engine', '?')} / {render.get('quality', '?')}"),
        ("render.repetitions", render.get("repetitions")),
        (
            "rig.mode / camera_motion",
            f"{config.get('rig', {}).get('mode')} / {config.get('rig', {}).get('camera_motion')}",
        ),
        ("run key (manifest.json render_key)", f"`{listing.render_key}`"),
    ]
    rows = "".join(f"| {k} | {v} |\n" for k, v in keys)
    return (
        "## Configuration\n\n| setting | value |\n|---|---|\n" + rows + "\nThe same config and seed make the same "
        "files, byte for byte; `work/run.json` records the config file this run was made from.\n"
    )


def _splits_and_classes(listing: Listing, tables: Mapping[str, Mapping[str, Any]]) -> str:
    takes = ", ".join(f"{split} {n}" for split, n in listing.splits.items())
    out = [f"## Splits and classes\n\nTakes per split: {takes}.\n"]
    for protocol, table in tables.items():
        counts: Mapping[str, Mapping[str, int]] = table.get("counts", {})
        splits = list(counts)
        out.append(
            f"\n### Protocol `{protocol}`: {len(table['classes'])} classes ({table.get('order')} order), "
            f"{_clips(table)} clips\n\n| index | class | "
            + " | ".join(splits)
            + " |\n|---|---|"
            + "---|" * len(splits)
            + "\n"
        )
        for index, name in enumerate(table["classes"]):
            cells = " | ".join(str(counts[s].get(name, 0)) for s in splits)
            out.append(f"| {index} | {name} | {cells} |\n")
    return "".join(out)


def _modalities() -> str:
    rows = "".join(f"| `{name}` | {what} | {how} |\n" for name, what, how in MODALITIES)
    return (
        "## Modalities and encodings\n\nPer take and view, per frame (layout and every code: the "
        "`docs/FORMAT.md` of SynthAct):\n\n| name | what | stored as |\n|---|---|---|\n"
        + rows
        + "\nEvery per-person array has a person axis P (the source's body order): (T, P, ...) per frame.\n"
        "Per take: world joints and SMPL-H parameters per person, which person is present in each frame\n"
        "(`present`), the source labels as given, provenance.\n"
    )


def _loading(name: str, tables: Mapping[str, Any]) -> str:
    protocol = next(iter(tables), "segments")
    return f"""## How to load

From the folder that holds `{name}/`, with SynthAct installed:

```python
from synthact.consume.reader import ClipTable, ShardReader
table = ClipTable.load("{name}", "{protocol}")           # clips, labels, splits
clip = table.split("train")[0]
reader = ShardReader(f"{name}/shards/{{clip.shard}}.h5")
window = reader.read(clip.take_id, reader.views[0], modalities=["rgb", "depth"],
                     frames=slice(clip.take_frame_start, clip.take_frame_stop))

from synthact.consume import SynthActVideoDataset       # PyTorch
ds = SynthActVideoDataset("{name}", split="train", modalities=("rgb",), num_frames=8, stride=1, fps=5)
```

For other tools: `synthact export {{amarv,pyskl,video-list,ntu-depth}} {name} DEST` writes the
layouts of the AMARV loader, pyskl / mmaction2, mmaction2 / PySlowFast video lists and NTU's
masked depth; `synthact preview {name}` and `synthact stats {name}` show what is here.
"""


def _checksums(listing: Listing) -> str:
    rows = "".join(f"| `{e.path}` | {e.size} | `{e.sha256}` |\n" for e in listing.files())
    return (
        "## Checksums\n\n`sha256sum -c SHA256SUMS` in this folder checks every file below; "
        "`synthact verify .` does the same through `manifest.json`.\n\n| file | bytes | sha256 |\n|---|---|---|\n"
        + rows
    )

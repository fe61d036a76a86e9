"""The dataset card: written from the run's own files, listed and checksummed by the manifest."""

from __future__ import annotations

import json
from pathlib import Path

from synthact.shards.dataset_card import card_text, source_of, write_card
from synthact.shards.manifest import DocumentEntry, LabelEntry, Manifest, ShardEntry, sha256_file

CONFIG = {
    "seed": 7,
    "preset": "none",
    "demo": {"enabled": True},
    "motion": {"source": "amass"},
    "clips": {"fps": 10},
    "labels": {"protocols": ["segments"]},
    "render": {"width": 160, "height": 120, "engine": "CYCLES", "quality": "draft", "repetitions": 1},
    "rig": {"mode": "actor", "camera_motion": "follow"},
}


def _run(root: Path) -> Manifest:
    folder = root / "labels" / "segments"
    folder.mkdir(parents=True)
    classes = {
        "protocol": "segments",
        "classes": ["walk", "sit"],
        "order": "frequency",
        "babel150_index": [0, 18],
        "counts": {"train": {"walk": 5, "sit": 2}, "val": {"walk": 1, "sit": 1}},
    }
    (folder / "classes.json").write_text(json.dumps(classes))
    (folder / "clips.jsonl").write_text("{}\n" * 9)
    labels = [
        LabelEntry("segments", f"labels/segments/{n}", sha256_file(folder / n), (folder / n).stat().st_size, 9, 2)
        for n in ("clips.jsonl", "classes.json")
    ]
    shard = ShardEntry("train-00000-of-00001", "shards/train-00000-of-00001.h5", "train", "ab" * 32, 1234, 3, 90, [])
    return Manifest(
        render_key="f" * 64,
        num_takes=3,
        num_frames=90,
        views=["front", "left"],
        splits={"train": 3},
        shards=[shard],
        labels=labels,
    )


def test_the_card_says_what_sources_config_counts_modalities_loading_and_checksums(tmp_path):
    manifest = _run(tmp_path)
    text = card_text(tmp_path, manifest, CONFIG)
    assert text.startswith("---\npretty_name: SynthAct ") and "license: mit" in text  # the demo's own inputs
    assert "| seed | 7 |" in text and "| clips.fps | 10 |" in text and "f" * 64 in text
    assert "| 0 | walk | 5 | 1 |" in text and "| 1 | sit | 2 | 1 |" in text  # counts per split and class
    assert "2 classes (frequency order), 9 clips" in text
    assert "`depth`" in text and "uint16 codes" in text
    assert "SynthActVideoDataset(" in text and "synthact export" in text
    for entry in manifest.files():
        assert f"| `{entry.path}` | {entry.size} | `{entry.sha256}` |" in text
    real = dict(CONFIG, demo={"enabled": False})
    assert source_of(real) == "amass" and "AMASS licence" in card_text(tmp_path, manifest, real)
    assert "license: other" in card_text(tmp_path, manifest, real)


def test_written_card_round_trips_through_the_manifest(tmp_path):
    manifest = _run(tmp_path)
    path = write_card(tmp_path, manifest, CONFIG)
    manifest.documents.append(DocumentEntry("README.md", sha256_file(path), path.stat().st_size))
    back = Manifest.from_json(manifest.to_json())
    assert back.documents == manifest.documents and back.files()[-1].path == "README.md"

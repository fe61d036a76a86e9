"""Generate the built-in default inputs: body models, motion files and labels.

They are written in the exact real formats (AMASS SMPL-H model and SMPL+H
``*_poses.npz``, BABEL JSON), so the pipeline reads them with the same loaders
as real data. A stamp file, written last, tells Snakemake they are complete.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from synthact import atomic
from synthact.errors import ConfigError

STAMP_NAME = "synthact-demo.json"


def check_motion_paths(config: dict, data_dir: Path) -> None:
    """The demo writes into data_dir; the motion paths must read from there."""
    expected = {
        "amass_root": data_dir / "amass",
        "babel_dir": data_dir / "babel",
        "body_model_dir": data_dir / "body_models",
    }
    for key, path in expected.items():
        if Path(config["motion"][key]) != path:
            raise ConfigError(
                f"demo.enabled is true, so motion.{key} must be {path} (the demo writes there), "
                f"got {config['motion'][key]}; set demo.enabled: false to use your own data"
            )


def generate_demo_inputs(config: dict) -> Path:
    from synthact.demo.body_model import write_demo_appearance, write_demo_body_models
    from synthact.demo.dataset import write_demo_dataset

    demo = config["demo"]
    data_dir = Path(demo["data_dir"])
    check_motion_paths(config, data_dir)
    started = time.monotonic()
    print(f"demo: generating body models in {data_dir / 'body_models'}", file=sys.stderr, flush=True)
    models = write_demo_body_models(data_dir / "body_models")
    # The demo's own UV layout and procedural clothing textures: randomize.uv_file and textures_dir.
    uv_file, textures_dir = write_demo_appearance(data_dir / "body_models")
    print(f"demo: generating {demo['sequences']} motion sequences in {data_dir}", file=sys.stderr, flush=True)
    dataset = write_demo_dataset(data_dir, data_dir / "body_models", num_sequences=demo["sequences"], seed=demo["seed"])
    stamp = data_dir / STAMP_NAME
    record = {
        "body_models": {g: str(p) for g, p in models.items()},
        "uv_file": str(uv_file),
        "textures_dir": str(textures_dir),
        "dataset": repr(dataset),
    }
    atomic.write_text(stamp, json.dumps(record, indent=1))
    print(f"demo: inputs ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return stamp

"""The scene before and after its environment parts: render time per frame and contact sheets, in one run.

Renders the same demo takes, seeds and cameras in one Blender scene, in turn:

- ``before``: a procedural ground plane and a sun drawn at random (``randomize.ground:
  procedural``, ``supports: false``), what SynthAct rendered until now;
- ``after``: the HDRI's own ground (a shadow catcher), a sun from the HDRI's brightest
  direction, and a seat under every sitter (the defaults now);
- ``picture``: ``after`` over a picture (``randomize.backgrounds_dir``): an empty frame
  of the same camera, rendered first without the person, as a user's empty frame of a
  real camera would be;
- ``user-hdri`` (with ``--hdri-dir``): ``after`` with HDRIs drawn from that folder.

Prints seconds per frame for each (wall, interleaved take by take so the machine's load
falls on all alike) and writes one contact sheet per mode (a row of takes, their middle
or sitting frame) to ``--sheets``.

    .venv/bin/python benchmarks/scene_render.py --sheets /tmp/sheets
    .venv/bin/python benchmarks/scene_render.py --size 640x480 --frames 8 --hdri-dir ~/hdris
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def demo_takes(data_dir: Path, count: int) -> list[dict]:
    """The demo's takes posed at 30 fps or below, sitters first, with their labels."""
    from synthact.body.skeleton import vertex_parts
    from synthact.body.smplh import BodyModel
    from synthact.demo.body_model import write_demo_body_models
    from synthact.demo.dataset import write_demo_dataset
    from synthact.sources.amass import load_motion

    if not (data_dir / "body_models").is_dir():
        write_demo_body_models(data_dir / "body_models")
        write_demo_dataset(data_dir, data_dir / "body_models", num_sequences=12, seed=0)
    entries = {}
    for name in ("train.json", "val.json"):
        entries.update(json.loads((data_dir / "babel" / name).read_text()))
    takes = []
    for sid, entry in sorted(entries.items()):
        motion = load_motion(data_dir / "amass" / entry["feat_p"])
        model = BodyModel(data_dir / "body_models", motion.gender)
        step = max(1, round(motion.fps / 30))
        posed = model.pose(motion.poses[::step], motion.trans[::step], np.asarray(motion.betas, np.float32))
        labels = [label["act_cat"][0] for label in entry["frame_ann"]["labels"]]
        takes.append(
            {
                "sid": sid,
                "vertices": posed.vertices,
                "pelvis": posed.joints[:, 0],
                "parts": vertex_parts(model.lbs_weights),
                "fps": motion.fps / step,
                "sits": "sit" in labels,
            }
        )
    takes.sort(key=lambda t: (not t["sits"], t["sid"]))
    return takes[:count]


def shown_frame(take: dict, frames: int) -> int:
    """First frame of the timed run: a sitting frame for a sitter, else the middle."""
    from synthact.scene import supports

    spans = supports.sitting_spans(take["vertices"], take["parts"], take["fps"])
    if spans:
        frame = int(supports.sitting_frames(take["vertices"], take["parts"], spans[0])[0])
    else:
        frame = len(take["vertices"]) // 2
    return max(0, min(frame, len(take["vertices"]) - frames))


def camera(take: dict, frame: int, width: int, height: int, index: int):
    from synthact.scene.cameras import Camera, intrinsics, look_at

    centre = take["pelvis"][frame].astype(np.float64)
    azimuth = np.radians(35.0 + 70.0 * index)
    eye = centre + np.array([4.0 * np.cos(azimuth), 4.0 * np.sin(azimuth), 0.5])
    R, t = look_at(eye, centre - np.array([0.0, 0.0, 0.3]))
    return Camera(K=intrinsics(width, height, 55.0), R=R, t=t, width=width, height=height)


def looks(take: dict, seed: int, hdris, user_hdris) -> dict:
    """The appearance of each mode, all from one seed."""
    from synthact.scene.appearance import furnish, sample_appearance
    from synthact.scene.supports import place_seats

    before = sample_appearance(seed, hdris.names)
    after = sample_appearance(seed, hdris.names, key_light=hdris.key_light, hdri_ground=True)
    after = furnish(after, place_seats(take["vertices"], take["parts"], take["fps"]), seed)
    out = {"before": before, "after": after}
    if user_hdris is not None:
        user = sample_appearance(seed, user_hdris.names, key_light=user_hdris.key_light, hdri_ground=True)
        out["user-hdri"] = dataclasses.replace(user, props=after.props, prop_surface=after.prop_surface)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=6, help="demo takes (sitters first)")
    parser.add_argument("--frames", type=int, default=6, help="timed frames per take and mode")
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hdri-dir", type=Path, default=None, help="a folder of your .exr/.hdr HDRIs")
    parser.add_argument("--data-dir", type=Path, default=None, help="demo inputs (made here when missing)")
    parser.add_argument("--sheets", type=Path, default=Path("scene-sheets"), help="where the contact sheets go")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    from PIL import Image

    from synthact.render.blender import BlenderScene, available_hdris, hdri_dir
    from synthact.render.renderer import RenderSettings
    from synthact.scene.environment import HdriSet

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="synthact-scene-bench-"))
    takes = demo_takes(data_dir, args.takes)
    hdris = HdriSet(hdri_dir(), available_hdris(), bundled=True)
    user_hdris = HdriSet.from_config({"hdri_dir": str(args.hdri_dir)}, hdri_dir(), []) if args.hdri_dir else None
    pictures = Path(tempfile.mkdtemp(prefix="synthact-scene-pictures-"))
    settings = RenderSettings(width=width, height=height, samples=args.samples, denoise=True)
    faces = np.load(data_dir / "body_models" / "smplh" / "SMPLH_NEUTRAL.npz")["f"]
    seconds: dict[str, float] = {}
    sheets: dict[str, list[np.ndarray]] = {}
    user_runs = []  # rendered last, in a scene that knows the user's folder
    with BlenderScene(settings, faces, takes[0]["parts"], backgrounds_dir=pictures) as scene:
        for index, take in enumerate(takes):
            first = shown_frame(take, args.frames)
            clip = take["vertices"][first : first + args.frames]
            cam = camera(take, first, width, height, index)
            modes = looks(take, args.seed + index, hdris, user_hdris)
            # An empty frame of this camera, as a user would take with the real one: the person far away.
            empty = scene.render_clip(clip[:1] + np.float32(1e4), cam, modes["after"], seed=1)
            Image.fromarray(empty.rgb[0]).save(pictures / f"view{index}.png")
            modes["picture"] = dataclasses.replace(modes["after"], props=(), backgrounds={"v": f"view{index}.png"})
            if "user-hdri" in modes:
                user_runs.append((cam, clip, modes.pop("user-hdri"), index))
            for mode, look in modes.items():
                start = time.perf_counter()
                out = scene.render_clip(clip, cam, look, seed=index, view="v")
                seconds[mode] = seconds.get(mode, 0.0) + time.perf_counter() - start
                sheets.setdefault(mode, []).append(out.rgb[0])
            print(f"take {take['sid']} ({'sits' if take['sits'] else 'stands'}): seats {len(modes['after'].props)}")
    if user_hdris is not None:
        with BlenderScene(settings, faces, takes[0]["parts"], hdri_folder=user_hdris.folder) as scene:
            for cam, clip, look, index in user_runs:
                start = time.perf_counter()
                out = scene.render_clip(clip, cam, look, seed=index)
                seconds["user-hdri"] = seconds.get("user-hdri", 0.0) + time.perf_counter() - start
                sheets.setdefault("user-hdri", []).append(out.rgb[0])
    frames = len(takes) * args.frames
    print(f"{width}x{height}, {args.samples} samples + denoise, {len(takes)} takes x {args.frames} frames")
    for mode, total in seconds.items():
        print(f"  {mode:10s} {total / frames:.3f} s/frame")
    args.sheets.mkdir(parents=True, exist_ok=True)
    for mode, images in sheets.items():
        path = args.sheets / f"scene-{mode}.png"
        Image.fromarray(np.concatenate(images, axis=1)).save(path)
        print(f"  contact sheet: {path}")


if __name__ == "__main__":
    main()

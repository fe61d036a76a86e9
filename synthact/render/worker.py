"""One render task: every clip of a shard, seen from one view, in one bpy process.

The scene is built once; each clip swaps only the body animation, the camera
and the appearance. A clip's result is one ``.npz`` in the shard's cache
folder, written under a temporary name and renamed, so a killed task leaves
no file that looks finished and a rerun skips every clip already there.

Per-clip draws (appearance, body-shape noise) are seeded from (seed, clip id)
only, so every view task of a clip draws the same body and look.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthact.render.cameras import Camera, project, to_camera
from synthact.seeding import rng_for

log = logging.getLogger("synthact.render")

# A joint counts as visible when the surface seen at its pixel is the person
# and lies at most this far in front of it: joints sit inside limbs (radius
# < 0.15 m), while an occluding limb is further in front.
VISIBILITY_DEPTH_TOLERANCE_M = 0.25


@dataclass(frozen=True)
class ViewTask:
    """What one submitit task renders: one view of one shard."""

    shard_plan: str
    view: str
    cache_dir: str
    config_json: str


def cache_path(cache_dir: str | Path, view: str, clip_id: str) -> Path:
    return Path(cache_dir) / view / f"{clip_id}.npz"


def missing_results(document: dict, cache_dir: str | Path) -> list[Path]:
    """Every clip-view result of the shard that is not in the cache yet."""
    paths = (cache_path(cache_dir, v, c["clip_id"]) for c in document["clips"] for v in document["views"])
    return [p for p in paths if not p.exists()]


def pending_clips(document: dict, view: str, cache_dir: str | Path) -> list[dict]:
    return [c for c in document["clips"] if not cache_path(cache_dir, view, c["clip_id"]).exists()]


def keypoint_visibility(uv: np.ndarray, z: np.ndarray, depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(T, J) bool: in the image, on the person, and not hidden behind it."""
    T, H, W = mask.shape
    inside = (z > 0) & (uv[..., 0] >= 0) & (uv[..., 0] < W) & (uv[..., 1] >= 0) & (uv[..., 1] < H)
    px = np.clip(np.floor(np.nan_to_num(uv[..., 0])).astype(np.int64), 0, W - 1)
    py = np.clip(np.floor(np.nan_to_num(uv[..., 1])).astype(np.int64), 0, H - 1)
    frames = np.arange(T)[:, None]
    on_person = mask[frames, py, px]
    surface = depth[frames, py, px]
    return inside & on_person & (z - surface < VISIBILITY_DEPTH_TOLERANCE_M)


def mask_bboxes(mask: np.ndarray) -> np.ndarray:
    """(T, 4) float32 boxes [x0, y0, x1, y1] in pixel edges; NaN where empty."""
    boxes = np.full((mask.shape[0], 4), np.nan, dtype=np.float32)
    for t, frame in enumerate(mask):
        ys = np.flatnonzero(frame.any(axis=1))
        xs = np.flatnonzero(frame.any(axis=0))
        if ys.size:
            boxes[t] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return boxes


def body_shape_noise(seed: int, clip_id: str, std: float, count: int) -> np.ndarray:
    """(count,) float32 Gaussian noise for a clip's betas; zeros when ``std`` is 0."""
    if std <= 0.0:
        return np.zeros(count, np.float32)
    return rng_for(seed, clip_id, "body_shape").normal(0.0, std, size=count).astype(np.float32)


def pose_reshaped(model, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray, noise: np.ndarray) -> tuple:
    """Pose with ``betas + noise``, re-grounded; returns (posed body, z offset added to trans).

    The offset keeps the body's lowest point at the first frame where the
    motion's own shape had it, so a taller or shorter body neither sinks into
    the floor nor floats. Without noise the motion is posed as it is.
    """
    if not noise.any():
        return model.pose(poses, trans, betas), 0.0
    used = betas + noise
    before = model.pose(poses[:1], trans[:1], betas).vertices[0, :, 2].min()
    after = model.pose(poses[:1], trans[:1], used).vertices[0, :, 2].min()
    offset = float(before) - float(after)
    shifted = np.asarray(trans, dtype=np.float64) + np.array([0.0, 0.0, offset])
    return model.pose(poses, shifted, used), offset


def select_hdris(available: list[str], wanted: list[str]) -> list[str]:
    """The HDRIs to draw from: ``wanted`` (all when empty), each of which must exist."""
    if not wanted:
        return available
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise ValueError(f"randomize.hdris: {missing} are not bundled HDRIs; available: {available}")
    return sorted(set(wanted))


def encode_jpegs(rgb: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
    """JPEG-encode frames; returns (all bytes, offsets with T+1 entries)."""
    import simplejpeg

    blobs = [simplejpeg.encode_jpeg(np.ascontiguousarray(f), quality=quality, colorspace="RGB") for f in rgb]
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    return np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets


def save_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(buffer.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ClipRenderer:
    """Holds the long-lived state of a task: body models, motion cache, scene."""

    def __init__(self, config: dict):
        from synthact.body.skeleton import vertex_parts
        from synthact.body.smplh import BodyModel
        from synthact.render import blender
        from synthact.render.appearance import AppearanceRanges

        self.config = config
        self._body_model_cls = BodyModel
        self._models: dict[str, BodyModel] = {}
        self._motion_cache: tuple[str, object] | None = None
        neutral = self.any_body_model()
        self.settings = blender.settings_from_config(config["render"])
        self.scene = blender.BlenderScene(self.settings, neutral.faces, vertex_parts(neutral.lbs_weights))
        randomize = config.get("randomize", {})
        self.hdri_names = select_hdris(blender.available_hdris(), list(randomize.get("hdris", [])))
        self.ranges = AppearanceRanges.from_config(randomize)
        self.shape_std = float(randomize.get("body_shape_std", 0.0))

    def any_body_model(self):
        """A model whose topology builds the scene: genders share faces and
        weights, and the MANO release has no neutral model."""
        from synthact.body.model_files import BodyModelError

        for gender in ("neutral", "female", "male"):
            try:
                return self.body_model(gender)
            except BodyModelError as exc:
                error = exc
        raise error

    def body_model(self, gender: str):
        if gender not in self._models:
            self._models[gender] = self._body_model_cls(self.config["motion"]["body_model_dir"], gender)
        return self._models[gender]

    def motion(self, source: str):
        from synthact.sources.amass import load_motion

        if self._motion_cache is None or self._motion_cache[0] != source:
            root = Path(self.config["motion"]["amass_root"])
            self._motion_cache = (source, load_motion(source, root=root))
        return self._motion_cache[1]

    def pose(self, clip: dict, motion, frames: np.ndarray) -> tuple:
        """Pose the clip's body with the clip's body-shape noise.

        Returns:
            (posed body, betas used, noise, ground offset in metres added to trans z).
        """
        betas = np.asarray(motion.betas, dtype=np.float32)
        noise = body_shape_noise(self.config["seed"], clip["clip_id"], self.shape_std, len(betas))
        model = self.body_model(motion.gender)
        posed, offset = pose_reshaped(model, motion.poses[frames], motion.trans[frames], betas, noise)
        return posed, betas + noise, noise, offset

    def render(self, clip: dict, view: dict) -> dict[str, np.ndarray]:
        from synthact.clips.resample import resample_indices
        from synthact.render.appearance import sample_appearance

        motion = self.motion(clip["source"])
        frames = resample_indices(len(motion.poses), motion.fps, clip["fps"])[clip["frame_start"] : clip["frame_stop"]]
        posed, betas_used, noise, offset = self.pose(clip, motion, frames)
        camera = Camera.from_dict(view["camera"])
        room = self.settings.scene == "room"
        appearance = sample_appearance(clip["appearance_seed"], self.hdri_names, self.ranges, room=room)
        origin = tuple(clip.get("path_center", (0.0, 0.0)))
        out = self.scene.render_clip(posed.vertices, camera, appearance, seed=view["seed"], room_origin=origin)
        joints_cam = to_camera(posed.joints, camera)
        uv = project(joints_cam, camera.K)
        jpeg, offsets = encode_jpegs(out.rgb, self.config["render"]["jpeg_quality"])
        return {
            "rgb_jpeg": jpeg,
            "rgb_offsets": offsets,
            "depth": out.depth.astype(np.float32),
            "mask": out.mask.astype(np.uint8),
            "parts": out.parts.astype(np.uint8),
            "normals": out.normals.astype(np.float16),
            "keypoints_2d": uv.astype(np.float32),
            "keypoints_visible": keypoint_visibility(uv, joints_cam[..., 2], out.depth, out.mask.astype(bool)),
            "joints_cam": joints_cam.astype(np.float32),
            "joints_world": posed.joints.astype(np.float32),
            "bbox": mask_bboxes(out.mask.astype(bool)),
            "source_frames": frames.astype(np.int64),
            "poses": motion.poses[frames].astype(np.float32),
            "trans": motion.trans[frames].astype(np.float32),
            "betas": np.asarray(motion.betas, dtype=np.float32),
            "betas_used": betas_used.astype(np.float32),
            "shape_noise": noise,
            "ground_offset_m": np.float64(offset),
            "gender": np.array(motion.gender),
            "appearance": np.array(json.dumps(appearance.to_dict(), sort_keys=True)),
        }


def render_view(task: ViewTask) -> dict:
    """Render every unfinished clip of one view; returns a small summary."""
    from synthact.config import config_from_json

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = config_from_json(task.config_json)
    document = json.loads(Path(task.shard_plan).read_text())
    views = {v["name"]: v for c in document["clips"][:1] for v in c["views"]}
    if task.view not in views:
        raise ValueError(f"{task.shard_plan}: view {task.view!r} is not in the plan (has {sorted(views)})")
    todo = pending_clips(document, task.view, task.cache_dir)
    label = f"[{document['shard']}/{task.view}]"
    total = len(document["clips"])
    log.info("%s %d of %d clips to render", label, len(todo), total)
    if not todo:
        return {"view": task.view, "rendered": 0, "frames": 0, "seconds": 0.0}
    renderer = ClipRenderer(config)
    started, frames_done = time.monotonic(), 0
    for done, clip in enumerate(todo, start=1):
        view = next(v for v in clip["views"] if v["name"] == task.view)
        arrays = renderer.render(clip, view)
        save_atomic(cache_path(task.cache_dir, task.view, clip["clip_id"]), arrays)
        frames_done += len(arrays["source_frames"])
        elapsed = time.monotonic() - started
        log.info(
            "%s rendered clip %s (%d/%d, %d frames), %.2f frames/s",
            label, clip["clip_id"], total - len(todo) + done, total, len(arrays["source_frames"]), frames_done / elapsed,
        )  # fmt: skip
    return {"view": task.view, "rendered": len(todo), "frames": frames_done, "seconds": time.monotonic() - started}

"""One render task: every take of a shard, seen from one view, in one bpy process.

The scene is built once; each take swaps only the body animation, the camera
path and the appearance. A take is rendered window by window: each window's
result is one file in the render cache (``render/cache.py``), written under a
temporary name and renamed, so a killed task leaves no file that looks
finished and a rerun resumes at the first missing window.

Per-take draws (appearance, body-shape noise) are seeded from (seed, take id)
only, so every view task of a take draws the same body and look, and every
window of a take shares them: the video runs on without a seam.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from synthact.body.model_files import BodyModelError
from synthact.body.skeleton import vertex_parts
from synthact.config_sections import MotionSection, RandomizeSection, RenderSection, RigSection, RunConfig
from synthact.errors import OutputError, describe_os_error, space_error
from synthact.render import blender
from synthact.render.blender import BODY_PASS_INDEX
from synthact.render.cache import RenderCache, windows
from synthact.render.encode import StorageSettings, WindowCoder
from synthact.render.engines import render_scene
from synthact.render.exr import decode_frame, read_passes
from synthact.render.pipeline import Pipeline
from synthact.render.renderer import settings_from_config
from synthact.render.visibility import keypoint_visibility, output_joint_parts
from synthact.render.window_record import WindowRecord, WindowScene
from synthact.resolved_config import parse_resolved
from synthact.scene.appearance import AppearanceRanges, body_mass_offset, furnish, sample_appearance
from synthact.scene.backgrounds import backdrops, draw_backgrounds
from synthact.scene.cameras import Camera, project
from synthact.scene.environment import HdriSet
from synthact.scene.rig import CameraPath, Rig, view_cameras
from synthact.scene.supports import supports_for_take
from synthact.scene.textures import texture_assets
from synthact.seeding import derive_seed, rng_for
from synthact.sources.amass import load_motion
from synthact.takes.plan import ShardPlan, TakePlan
from synthact.takes.resample import resample_indices

if TYPE_CHECKING:  # torch, smplx and the motion readers load only in the task that renders
    from synthact.body.smplh import BodyModel, PosedBody
    from synthact.scene.appearance import Appearance
    from synthact.sources.amass import Motion

log = logging.getLogger("synthact.render")

# Jobs (frames) the coding thread may lag behind the render: enough to absorb
# a slow frame, few enough that memory stays a few frames' EXRs.
PIPELINE_DEPTH = 4


@dataclass(frozen=True)
class ViewTask:
    """What one submitit task renders: one view of one shard."""

    shard_plan: str
    view: str
    cache_root: str
    resolved_config: str  # the resolved config file's text (synthact.resolved_config)
    threads: int  # Cycles and torch threads of this task


class ViewSummary(TypedDict):
    """What a render task reports back to the render step."""

    view: str
    rendered: int  # windows
    frames: int
    seconds: float


def mask_bboxes(mask: np.ndarray) -> np.ndarray:
    """(T, 4) float32 boxes [x0, y0, x1, y1] in pixel edges; NaN where empty."""
    boxes = np.full((mask.shape[0], 4), np.nan, dtype=np.float32)
    for t, frame in enumerate(mask):
        ys = np.flatnonzero(frame.any(axis=1))
        xs = np.flatnonzero(frame.any(axis=0))
        if ys.size:
            boxes[t] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return boxes


def body_shape_noise(seed: int, take_id: str, std: float, count: int) -> np.ndarray:
    """(count,) float32 Gaussian noise for a take's betas; zeros when ``std`` is 0."""
    if std <= 0.0:
        return np.zeros(count, np.float32)
    return rng_for(seed, take_id, "body_shape").normal(0.0, std, size=count).astype(np.float32)


def ground_offset(
    model: BodyModel, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray, noise: np.ndarray
) -> float:
    """Height to add to ``trans`` so that a reshaped body stands where the motion's own shape stood.

    The body's lowest point at the take's first frame stays at the height it had
    with the motion's betas, so a taller or shorter body neither sinks into the
    floor nor floats. Zero without shape noise.
    """
    if not noise.any():
        return 0.0
    before = model.pose(poses[:1], trans[:1], betas).vertices[0, :, 2].min()
    after = model.pose(poses[:1], trans[:1], betas + noise).vertices[0, :, 2].min()
    return float(before) - float(after)


def select_hdris(available: list[str], wanted: list[str]) -> list[str]:
    """The HDRIs to draw from: ``wanted`` (all when empty), each of which must exist."""
    if not wanted:
        return available
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise ValueError(f"randomize.hdris: {missing} are not bundled HDRIs; available: {available}")
    return sorted(set(wanted))


class WindowJob:
    """The CPU side of one rendered window, run on the pipeline thread.

    Each frame's EXR is read, decoded, coded and deleted as soon as it is
    rendered; ``finish`` writes the window's cache file. Only compressed bytes
    and per-frame labels are held, never the window's raw frames.
    """

    def __init__(
        self, path: Path, scene: WindowScene, uv: np.ndarray, z: np.ndarray, coder: WindowCoder, joint_parts: np.ndarray
    ):
        # uv and z at full precision: visibility is tested before the record's float32 rounding.
        self.path, self.scene, self.uv, self.z, self.coder = path, scene, uv, z, coder
        self.joint_parts = joint_parts
        self.visible = np.zeros(uv.shape[:2], bool)
        self.bbox = np.full((len(uv), 4), np.nan, np.float32)

    def frame(self, i: int, exr: Path, R: np.ndarray) -> None:
        passes = read_passes(exr)
        exr.unlink()
        self.arrays(i, *decode_frame(passes, R, BODY_PASS_INDEX))

    def arrays(
        self,
        i: int,
        rgb: np.ndarray | None,
        depth: np.ndarray,
        mask: np.ndarray,
        parts: np.ndarray,
        normals: np.ndarray,
    ) -> None:
        """Code one frame's images (``rgb`` None: the geometry engine draws no colour) and label it."""
        self.coder.add(rgb, depth, mask, parts, normals)
        # A keypoint is visible only where its pixel shows its own body part or a neighbour.
        self.visible[i] = keypoint_visibility(
            self.uv[i : i + 1], self.z[i : i + 1], depth[None], mask[None], parts[None], joint_parts=self.joint_parts
        )[0]
        self.bbox[i] = mask_bboxes(mask[None])[0]

    def finish(self) -> None:
        WindowRecord(self.scene, self.coder.finish(), keypoints_visible=self.visible, bbox=self.bbox).write(self.path)


@dataclass
class PreparedTake:
    """What every window of one take shares: its motion frames, body and camera path."""

    plan: TakePlan
    motion: Motion
    source_frames: np.ndarray  # (T,) source frame of each take frame
    betas: np.ndarray
    noise: np.ndarray
    offset: float
    appearance: Appearance
    cameras: CameraPath

    def trans(self, a: int, b: int) -> np.ndarray:
        """Translation of take frames [a, b), re-grounded for the drawn body shape."""
        return self.motion.trans[self.source_frames[a:b]] + np.array([0.0, 0.0, self.offset])


class TakeRenderer:
    """Holds the long-lived state of a task: body models, motion cache, scene."""

    def __init__(
        self,
        seed: int,
        motion: MotionSection,
        rig: RigSection,
        render: RenderSection,
        randomize: RandomizeSection,
        fps: float,
    ):
        from synthact.body.smplh import BodyModel  # torch and smplx: not in the dispatcher, which imports this module

        self.seed = seed
        self.body_model_dir = motion.body_model_dir
        self.amass_root = Path(motion.amass_root)
        self._body_model_cls = BodyModel
        self._models: dict[str, BodyModel] = {}
        self._motion_cache: tuple[str, Motion] | None = None
        neutral = self.any_body_model()
        self.settings = settings_from_config(render.as_dict())
        face_uv, textures_dir, self.texture_names = texture_assets(randomize.as_dict(), neutral.faces)
        bundled = select_hdris(blender.available_hdris(), list(randomize.hdris))
        self.hdris = HdriSet.from_config(randomize.as_dict(), blender.hdri_dir(), bundled)
        self.rig = Rig.from_config(rig.as_dict(), render.as_dict())
        backgrounds_dir = randomize.backgrounds_dir
        views = [v.name for v in self.rig.views]
        self.backgrounds = backdrops(backgrounds_dir, rig.as_dict(), views, render.scene)
        self.vertex_part = vertex_parts(neutral.lbs_weights)
        self.scene = render_scene(
            self.settings,
            neutral.faces,
            self.vertex_part,
            face_uv=face_uv,
            textures_dir=textures_dir,
            hdri_folder=None if self.hdris.bundled else self.hdris.folder,
            backgrounds_dir=backgrounds_dir or None,
        )
        self.hdri_ground = randomize.ground == "environment"
        self.supports = randomize.supports
        self.ranges = AppearanceRanges.from_config(randomize.as_dict())
        self.shape_std = randomize.body_shape_std
        self.mass_range = randomize.body_mass_range
        self.storage = StorageSettings.from_config({**render.as_dict(), "fps": round(fps)})
        self.joint_parts = output_joint_parts(neutral.lbs_weights)

    def any_body_model(self) -> BodyModel:
        """A model whose topology builds the scene: genders share faces and
        weights, and the MANO release has no neutral model."""
        error: Exception | None = None
        for gender in ("neutral", "female", "male"):
            try:
                return self.body_model(gender)
            except BodyModelError as exc:
                error = exc
        assert error is not None
        raise error

    def body_model(self, gender: str) -> BodyModel:
        if gender not in self._models:
            self._models[gender] = self._body_model_cls(self.body_model_dir, gender)
        return self._models[gender]

    def motion(self, source: str) -> Motion:
        if self._motion_cache is None or self._motion_cache[0] != source:
            self._motion_cache = (source, load_motion(Path(source), root=self.amass_root))
        return self._motion_cache[1]

    def shape_draw(self, take_id: str, count: int) -> np.ndarray:
        """The take's change to the motion's betas: Gaussian noise plus a body-mass offset (beta 1)."""
        mass = body_mass_offset(rng_for(self.seed, take_id, "body_mass"), self.mass_range, count)
        return (body_shape_noise(self.seed, take_id, self.shape_std, count) + mass).astype(np.float32)

    def prepare(self, plan: TakePlan, view: str) -> PreparedTake:
        """Load the take's motion, draw its body and look, and trace this view's cameras."""
        take = plan.take
        motion = self.motion(take.source)
        timeline = resample_indices(len(motion.poses), motion.fps, take.fps)
        source_frames = timeline[take.frames()]
        betas = np.asarray(motion.betas, dtype=np.float32)
        noise = self.shape_draw(take.take_id, len(betas))
        model = self.body_model(motion.gender)
        first = source_frames[:1]
        offset = ground_offset(model, motion.poses[first], motion.trans[first], betas, noise)
        pelvis_rest = model.rest_joints(betas + noise)[0]
        pelvis_xy = (motion.trans[source_frames] + pelvis_rest)[:, :2]
        room = self.settings.scene == "room"
        appearance = sample_appearance(
            plan.appearance_seed,
            self.hdris.names,
            self.ranges,
            room=room,
            textures=self.texture_names,
            key_light=self.hdris.key_light if self.hdri_ground else None,
            hdri_ground=self.hdri_ground,
        )
        if self.supports:
            trans = motion.trans[source_frames] + np.array([0.0, 0.0, offset])
            props = supports_for_take(
                model, motion.poses[source_frames], trans, betas + noise, self.vertex_part, take.fps
            )
            appearance = furnish(appearance, props, plan.appearance_seed)
        if self.backgrounds:
            appearance = replace(appearance, backgrounds=draw_backgrounds(plan.appearance_seed, self.backgrounds))
        return PreparedTake(
            plan=plan,
            motion=motion,
            source_frames=source_frames,
            betas=betas,
            noise=noise,
            offset=offset,
            appearance=appearance,
            cameras=view_cameras(self.rig, plan.view(view), take, pelvis_xy),
        )

    def pose_window(self, prepared: PreparedTake, a: int, b: int) -> PosedBody:
        """The posed body (vertices, joints) of take frames [a, b)."""
        motion = prepared.motion
        model = self.body_model(motion.gender)
        return model.pose(
            motion.poses[prepared.source_frames[a:b]], prepared.trans(a, b), prepared.betas + prepared.noise
        )

    def render_window(
        self,
        prepared: PreparedTake,
        view: str,
        window: int,
        a: int,
        b: int,
        out: Path,
        pipeline: Pipeline,
        posed: PosedBody | None = None,
    ) -> None:
        """Render take frames [a, b) from ``view``; ``pipeline`` codes them and writes ``out``.

        Returns as soon as the last frame is rendered: the window's coding
        and cache write overlap the next window's rendering. ``posed``: the
        window's body if posed ahead (``render_windows``), else posed here.
        """
        take = prepared.plan.take
        frames = prepared.source_frames[a:b]
        motion = prepared.motion
        posed = self.pose_window(prepared, a, b) if posed is None else posed
        path = prepared.cameras
        cameras = [
            Camera(K=path.K, R=path.R[i], t=path.t[i], width=self.rig.width, height=self.rig.height)
            for i in range(a, b)
        ]
        seed = derive_seed(prepared.plan.view(view).seed, window) % (2**31 - 1)
        joints_cam = np.einsum("tij,tkj->tki", path.R[a:b], posed.joints) + path.t[a:b, None, :]
        uv = project(joints_cam, path.K)
        scene = WindowScene(
            keypoints_2d=uv.astype(np.float32),
            joints_cam=joints_cam.astype(np.float32),
            joints_world=posed.joints.astype(np.float32),
            K=np.asarray(path.K, np.float64),
            R=path.R[a:b].astype(np.float64),
            t=path.t[a:b].astype(np.float64),
            distance_m=float(path.distance_m),
            source_frames=frames.astype(np.int64),
            poses=motion.poses[frames].astype(np.float32),
            trans=motion.trans[frames].astype(np.float32),
            betas=prepared.betas,
            betas_used=(prepared.betas + prepared.noise).astype(np.float32),
            shape_noise=prepared.noise,
            ground_offset_m=float(prepared.offset),
            gender=str(motion.gender),
            appearance=json.dumps(prepared.appearance.to_dict(), sort_keys=True),
        )
        coder = WindowCoder(self.rig.width, self.rig.height, self.storage)
        job = WindowJob(out, scene, uv, joints_cam[..., 2], coder, self.joint_parts)
        if self.settings.engine == "GEOMETRY":  # no EXR: the z-buffer hands back arrays at once
            out_clip = self.scene.render_clip(
                posed.vertices, cameras, prepared.appearance, seed=seed, room_origin=tuple(take.path_center), view=view
            )
            assert out_clip is not None  # without a frame_sink every engine hands the arrays back
            for i in range(b - a):
                pipeline.submit(
                    job.arrays, i, None, out_clip.depth[i], out_clip.mask[i], out_clip.parts[i], out_clip.normals[i]
                )
            pipeline.submit(job.finish)
            return

        def sink(i: int, exr: Path, camera: Camera) -> None:
            pipeline.submit(job.frame, i, exr, np.asarray(camera.R))

        self.scene.render_clip(
            posed.vertices,
            cameras,
            prepared.appearance,
            seed=seed,
            room_origin=tuple(take.path_center),
            frame_sink=sink,
            view=view,
        )
        pipeline.submit(job.finish)


def pending_windows(plan: ShardPlan, view: str, cache: RenderCache) -> list[tuple[TakePlan, int, int, int]]:
    """(take, window index, start, stop) of every window of ``view`` not in the cache yet."""
    todo = []
    for take in plan.takes:
        for index, (a, b) in enumerate(windows(take.take.num_frames, plan.window_frames)):
            if not cache.window_path(view, take.take.take_id, index).exists():
                todo.append((take, index, a, b))
    return todo


def pin_torch_threads(threads: int) -> None:
    """Give torch (smplx posing, the geometry engine) the task's own cores.

    By default torch starts a thread per core of the node in every view task,
    on top of the cores the task's Cycles threads already use: with four view
    tasks on a node, four times the node's cores.
    """
    import torch

    if threads > 0:
        torch.set_num_threads(threads)


def render_view(task: ViewTask) -> ViewSummary:
    """Render every unfinished window of one view; returns a small summary."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    source = f"{task.shard_plan} ({task.view})"
    run = RunConfig.from_resolved(parse_resolved(task.resolved_config, source), {}, source)  # needs no dispatch
    render = replace(run.render, threads=task.threads)
    pin_torch_threads(task.threads)
    plan = ShardPlan.read(task.shard_plan)
    if task.view not in plan.views:
        raise ValueError(f"{task.shard_plan}: view {task.view!r} is not in the plan (has {list(plan.views)})")
    cache = RenderCache(Path(task.cache_root))
    todo = pending_windows(plan, task.view, cache)
    label = f"[{plan.name}/{task.view}]"
    log.info(
        "%s %d windows to render (%d takes, %d frames in the shard)", label, len(todo), len(plan.takes), plan.num_frames
    )
    if not todo:
        return {"view": task.view, "rendered": 0, "frames": 0, "seconds": 0.0}
    renderer = TakeRenderer(run.seed, run.motion, run.rig, render, run.randomize, run.clips.fps)
    started = time.monotonic()
    jobs = [(take, index, a, b, cache.window_path(task.view, take.take.take_id, index)) for take, index, a, b in todo]
    try:
        frames_done = render_windows(renderer, task.view, jobs, label)
    except Exception as exc:
        full = space_error(exc)
        if full is None:
            raise
        # Named here: later errors (a closed zip file, a missing EXR) would hide the cause in the task's log.
        raise OutputError(describe_os_error(full[0])) from None
    return {"view": task.view, "rendered": len(todo), "frames": frames_done, "seconds": time.monotonic() - started}


def render_windows(
    renderer: TakeRenderer, view: str, jobs: list[tuple[TakePlan, int, int, int, Path]], label: str = ""
) -> int:
    """Render windows (take, index, start, stop, cache file) in order; returns the frames rendered.

    Three things run at once: Blender renders window k in this thread; a
    pose thread prepares and poses window k + 1 (motion file, smplx, torch:
    off the render's critical path, the next take's first window included);
    the pipeline thread codes window k's frames as they come and writes the
    finished windows' cache files. Memory: one window's posed body ahead,
    ``PIPELINE_DEPTH`` frames behind.
    """
    current: dict[str, PreparedTake] = {}  # touched by the pose thread only

    def ahead(take: TakePlan, a: int, b: int) -> tuple[PreparedTake, PosedBody]:
        prepared = current.get("take")
        if prepared is None or prepared.plan.take.take_id != take.take.take_id:
            prepared = current["take"] = renderer.prepare(take, view)
        return prepared, renderer.pose_window(prepared, a, b)

    started, frames_done = time.monotonic(), 0
    with Pipeline(depth=PIPELINE_DEPTH) as pipeline, ThreadPoolExecutor(1, thread_name_prefix="synthact-pose") as poser:
        future = poser.submit(ahead, jobs[0][0], jobs[0][2], jobs[0][3]) if jobs else None
        for done, (take, index, a, b, out) in enumerate(jobs, start=1):
            assert future is not None
            prepared, posed = future.result()
            if done < len(jobs):
                following = jobs[done]
                future = poser.submit(ahead, following[0], following[2], following[3])
            renderer.render_window(prepared, view, index, a, b, out, pipeline, posed=posed)
            frames_done += b - a
            rate = frames_done / (time.monotonic() - started)
            log.info(
                "%s rendered take %s window %d (%d frames; %d/%d windows), %.2f frames/s",
                label,
                take.take.take_id,
                index,
                b - a,
                done,
                len(jobs),
                rate,
            )
    return frames_done

"""One render task: every take of a shard, seen from one view, in one bpy process.

The scene is built once; each take swaps only the body animation, the camera
path and the appearance. A take is rendered window by window: each window's
result is one file in the render cache (``render/cache.py``), written under a
temporary name and renamed, so a killed task leaves no file that looks
finished and a rerun resumes at the first missing window.

Per-take draws (appearance, body-shape noise) are seeded from (seed, take id)
only, so every view task of a take draws the same body and look, and every
window of a take shares them: the video runs on without a seam.

A take with several bodies (``Take.partners``) poses each body from its own
motion file, with its own gender model, shape draw and ground offset (person
k > 0 draws from (seed, take id, k); person 0 as a one-person take), and the
engine draws them together, each with its own instance id. A body absent in
a frame (``Motion.present``) is collapsed to one point under the ground there,
so its triangles are degenerate and draw nothing, and its ground truth is NaN.
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
from synthact.render.cache import RenderCache, windows
from synthact.render.encode import StorageSettings, WindowCoder
from synthact.render.engines import render_scene
from synthact.render.exr import decode_frame, read_passes
from synthact.render.pipeline import Pipeline
from synthact.render.renderer import settings_from_config
from synthact.render.visibility import keypoint_visibility, output_joint_parts
from synthact.render.window_record import WindowRecord, WindowScene
from synthact.resolved_config import parse_resolved
from synthact.scene.appearance import AppearanceRanges, body_mass_offset, furnish, sample_appearance, with_partners
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
    from synthact.takes.records import Take

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


def person_identity(take_id: str, draw: str, person: int) -> tuple[object, ...]:
    """What seeds one body's draw: person 0 draws as a one-person take always has."""
    return (take_id, draw) if person == 0 else (take_id, draw, person)


def body_shape_noise(seed: int, take_id: str, std: float, count: int, person: int = 0) -> np.ndarray:
    """(count,) float32 Gaussian noise for the betas of a take's body ``person``; zeros when ``std`` is 0."""
    if std <= 0.0:
        return np.zeros(count, np.float32)
    rng = rng_for(seed, *person_identity(take_id, "body_shape", person))
    return rng.normal(0.0, std, size=count).astype(np.float32)


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
        # uv (T, P, J, 2) and z (T, P, J) at full precision: visibility is tested before the record's float32 rounding.
        self.path, self.scene, self.uv, self.z, self.coder = path, scene, uv, z, coder
        self.joint_parts = joint_parts
        self.visible = np.zeros(uv.shape[:3], bool)
        self.bbox = np.full((*uv.shape[:2], 4), np.nan, np.float32)

    def frame(self, i: int, exr: Path, R: np.ndarray) -> None:
        passes = read_passes(exr)
        exr.unlink()
        self.arrays(i, *decode_frame(passes, R, self.uv.shape[1]))

    def arrays(
        self,
        i: int,
        rgb: np.ndarray | None,
        depth: np.ndarray,
        mask: np.ndarray,
        parts: np.ndarray,
        normals: np.ndarray,
        instances: np.ndarray,
    ) -> None:
        """Code one frame's images (``rgb`` None: the geometry engine draws no colour) and label it."""
        self.coder.add(rgb, depth, mask, parts, normals, instances)
        for k in range(self.uv.shape[1]):
            # A keypoint is visible only where its pixel shows its own body, and its own part or a neighbour.
            own = instances == k + 1
            self.visible[i, k] = keypoint_visibility(
                self.uv[i : i + 1, k], self.z[i : i + 1, k], depth[None], own[None], parts[None], self.joint_parts
            )[0]
            self.bbox[i, k] = mask_bboxes(own[None])[0]

    def finish(self) -> None:
        WindowRecord(self.scene, self.coder.finish(), keypoints_visible=self.visible, bbox=self.bbox).write(self.path)


# Where an absent body's vertices go: one point, so every triangle is degenerate and
# draws nothing; under the ground, so even a renderer that drew it would hide it.
ABSENT_POINT = np.array([0.0, 0.0, -100.0], np.float32)


@dataclass
class PreparedBody:
    """One body of a take: its motion frames, drawn shape and presence."""

    source: str  # the motion file, relative to the motion root
    motion: Motion
    source_frames: np.ndarray  # (T,) source frame of each take frame
    present: np.ndarray  # (T,) bool
    betas: np.ndarray
    noise: np.ndarray
    offset: float

    def trans(self, a: int, b: int) -> np.ndarray:
        """Translation of take frames [a, b), re-grounded for the drawn body shape."""
        return self.motion.trans[self.source_frames[a:b]] + np.array([0.0, 0.0, self.offset])

    def record(self, appearance: Appearance, person: int) -> dict[str, object]:
        """What the shard's ``persons`` attribute says of this body."""
        return {
            "source": self.source,
            "gender": str(self.motion.gender),
            "ground_offset_m": float(self.offset),
            "appearance": appearance.look(person).to_dict(),
        }


def absent_as_nan(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``values`` (T, ...) with the frames where the body is absent set to NaN."""
    out = np.array(values, dtype=np.float32)
    out[~present] = np.nan
    return out


@dataclass
class PreparedTake:
    """What every window of one take shares: its bodies (body order), look and camera path."""

    plan: TakePlan
    bodies: tuple[PreparedBody, ...]
    appearance: Appearance
    cameras: CameraPath

    def present(self, a: int, b: int) -> np.ndarray:
        """(b - a, P) bool: which bodies take frames [a, b) show."""
        return np.stack([body.present[a:b] for body in self.bodies], axis=1)


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
        self._motion_cache: dict[str, Motion] = {}  # the current take's bodies
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

    def motions(self, sources: tuple[str, ...]) -> list[Motion]:
        """The motions of one take's bodies; the previous take's are let go."""
        kept = {s: self._motion_cache[s] for s in sources if s in self._motion_cache}
        for source in sources:
            if source not in kept:
                kept[source] = load_motion(Path(source), root=self.amass_root)
        self._motion_cache = kept
        return [kept[s] for s in sources]

    def shape_draw(self, take_id: str, count: int, person: int = 0) -> np.ndarray:
        """The change to a body's betas: Gaussian noise plus a body-mass offset (beta 1)."""
        rng = rng_for(self.seed, *person_identity(take_id, "body_mass", person))
        mass = body_mass_offset(rng, self.mass_range, count)
        return (body_shape_noise(self.seed, take_id, self.shape_std, count, person) + mass).astype(np.float32)

    def prepare_body(self, take: Take, source: str, motion: Motion, person: int) -> PreparedBody:
        """One body on the take's timeline: its frames, presence, drawn shape and ground offset."""
        timeline = resample_indices(len(motion.poses), motion.fps, take.fps)
        wanted = take.frames()
        # A partner's file shorter than the take (it should not be) leaves its body absent past its end.
        source_frames = timeline[np.minimum(wanted, len(timeline) - 1)]
        present = (wanted < len(timeline)) & np.asarray(motion.present, bool)[source_frames]
        betas = np.asarray(motion.betas, dtype=np.float32)
        noise = self.shape_draw(take.take_id, len(betas), person)
        first = source_frames[present][:1]  # the body's first frame in the scene
        model = self.body_model(motion.gender)
        offset = ground_offset(model, motion.poses[first], motion.trans[first], betas, noise) if len(first) else 0.0
        return PreparedBody(source, motion, source_frames, present, betas, noise, offset)

    def pelvis_xy(self, body: PreparedBody) -> np.ndarray:
        """(T, 2) world XY of a body's pelvis at each take frame."""
        pelvis_rest = self.body_model(body.motion.gender).rest_joints(body.betas + body.noise)[0]
        return (body.motion.trans[body.source_frames] + pelvis_rest)[:, :2]

    def prepare(self, plan: TakePlan, view: str) -> PreparedTake:
        """Load the take's motions, draw its bodies and looks, and trace this view's cameras."""
        take = plan.take
        sources = (take.source, *take.partners)
        motions = self.motions(sources)
        bodies = tuple(self.prepare_body(take, s, m, k) for k, (s, m) in enumerate(zip(sources, motions, strict=True)))
        pelvis_xy = np.stack([self.pelvis_xy(body) for body in bodies], axis=1)
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
        if self.supports:  # under body 0: where it sits, lies or climbs
            main, shown = bodies[0], bodies[0].present[:, None]
            poses = np.where(shown, main.motion.poses[main.source_frames], 0.0)
            trans = np.where(shown, main.trans(0, len(main.present)), 0.0)
            model = self.body_model(main.motion.gender)
            props = supports_for_take(model, poses, trans, main.betas + main.noise, self.vertex_part, take.fps)
            appearance = furnish(appearance, props, plan.appearance_seed)
        if self.backgrounds:
            appearance = replace(appearance, backgrounds=draw_backgrounds(plan.appearance_seed, self.backgrounds))
        if len(bodies) > 1:
            appearance = with_partners(appearance, plan.appearance_seed, len(bodies), self.ranges, self.texture_names)
        present = np.stack([body.present for body in bodies], axis=1)
        return PreparedTake(
            plan=plan,
            bodies=bodies,
            appearance=appearance,
            cameras=view_cameras(self.rig, plan.view(view), take, pelvis_xy, present),
        )

    def pose_body(self, body: PreparedBody, a: int, b: int) -> PosedBody:
        """One body (vertices, joints) at take frames [a, b); absent frames collapsed to ``ABSENT_POINT``."""
        present = body.present[a:b]
        frames = body.source_frames[a:b]
        # The poses of absent frames are placeholders (NaN, say): pose the rest pose there instead.
        poses = np.where(present[:, None], body.motion.poses[frames], 0.0)
        trans = np.where(present[:, None], body.trans(a, b), 0.0)
        posed = self.body_model(body.motion.gender).pose(poses, trans, body.betas + body.noise)
        if present.all():
            return posed
        vertices = posed.vertices.copy()
        vertices[~present] = ABSENT_POINT
        return replace(posed, vertices=vertices, joints=absent_as_nan(posed.joints, present))

    def pose_window(self, prepared: PreparedTake, a: int, b: int) -> tuple[PosedBody, ...]:
        """Every body (vertices, joints) of take frames [a, b), in body order."""
        return tuple(self.pose_body(body, a, b) for body in prepared.bodies)

    def render_window(
        self,
        prepared: PreparedTake,
        view: str,
        window: int,
        a: int,
        b: int,
        out: Path,
        pipeline: Pipeline,
        posed: tuple[PosedBody, ...] | None = None,
    ) -> None:
        """Render take frames [a, b) from ``view``; ``pipeline`` codes them and writes ``out``.

        Returns as soon as the last frame is rendered: the window's coding
        and cache write overlap the next window's rendering. ``posed``: the
        window's bodies if posed ahead (``render_windows``), else posed here.
        """
        take = prepared.plan.take
        posed = self.pose_window(prepared, a, b) if posed is None else posed
        path = prepared.cameras
        cameras = [
            Camera(K=path.K, R=path.R[i], t=path.t[i], width=self.rig.width, height=self.rig.height)
            for i in range(a, b)
        ]
        seed = derive_seed(prepared.plan.view(view).seed, window) % (2**31 - 1)
        joints = np.stack([body.joints for body in posed], axis=1)  # (T, P, 73, 3)
        joints_cam = np.einsum("tij,tpkj->tpki", path.R[a:b], joints) + path.t[a:b, None, None, :]
        uv = project(joints_cam, path.K)
        scene = self.window_scene(prepared, a, b, joints, joints_cam, uv)
        coder = WindowCoder(self.rig.width, self.rig.height, self.storage)
        job = WindowJob(out, scene, uv, joints_cam[..., 2], coder, self.joint_parts)
        vertices = posed[0].vertices if len(posed) == 1 else np.stack([body.vertices for body in posed], axis=1)
        if self.settings.engine == "GEOMETRY":  # no EXR: the z-buffer hands back arrays at once
            out_clip = self.scene.render_clip(
                vertices, cameras, prepared.appearance, seed=seed, room_origin=tuple(take.path_center), view=view
            )
            assert out_clip is not None  # without a frame_sink every engine hands the arrays back
            for i in range(b - a):
                images = (out_clip.depth[i], out_clip.mask[i], out_clip.parts[i], out_clip.normals[i])
                pipeline.submit(job.arrays, i, None, *images, out_clip.instances[i])
            pipeline.submit(job.finish)
            return

        def sink(i: int, exr: Path, camera: Camera) -> None:
            pipeline.submit(job.frame, i, exr, np.asarray(camera.R))

        self.scene.render_clip(
            vertices,
            cameras,
            prepared.appearance,
            seed=seed,
            room_origin=tuple(take.path_center),
            frame_sink=sink,
            view=view,
        )
        pipeline.submit(job.finish)

    def window_scene(
        self, prepared: PreparedTake, a: int, b: int, joints: np.ndarray, joints_cam: np.ndarray, uv: np.ndarray
    ) -> WindowScene:
        """What take frames [a, b) show, known before they are drawn; NaN where a body is absent."""
        path, bodies, main = prepared.cameras, prepared.bodies, prepared.bodies[0]
        present = prepared.present(a, b)
        poses = [absent_as_nan(body.motion.poses[body.source_frames[a:b]], body.present[a:b]) for body in bodies]
        trans = [absent_as_nan(body.motion.trans[body.source_frames[a:b]], body.present[a:b]) for body in bodies]
        persons = [body.record(prepared.appearance, k) for k, body in enumerate(bodies)]
        return WindowScene(
            keypoints_2d=uv.astype(np.float32),
            joints_cam=joints_cam.astype(np.float32),
            joints_world=joints.astype(np.float32),
            K=np.asarray(path.K, np.float64),
            R=path.R[a:b].astype(np.float64),
            t=path.t[a:b].astype(np.float64),
            distance_m=float(path.distance_m),
            source_frames=main.source_frames[a:b].astype(np.int64),
            poses=np.stack(poses, axis=1),
            trans=np.stack(trans, axis=1),
            betas=np.stack([body.betas for body in bodies]).astype(np.float32),
            betas_used=np.stack([body.betas + body.noise for body in bodies]).astype(np.float32),
            shape_noise=np.stack([body.noise for body in bodies]).astype(np.float32),
            present=present,
            ground_offset_m=float(main.offset),
            gender=str(main.motion.gender),
            appearance=json.dumps(prepared.appearance.to_dict(), sort_keys=True),
            persons=json.dumps(persons, sort_keys=True),
        )


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

    def ahead(take: TakePlan, a: int, b: int) -> tuple[PreparedTake, tuple[PosedBody, ...]]:
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

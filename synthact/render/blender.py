"""Render clips with Blender's Cycles through ``bpy``: the only module that imports bpy.

A ``BlenderScene`` is built once per process: ground plane, HDRI world, sun,
camera, and the body mesh with one material per body part; with
``scene="room"`` also an apartment-like room (``room.py``: walls, ceiling,
furniture blocks, ceiling lights). ``render_clip`` then swaps only the
animation, the camera, the appearance and the room's position, renders every
frame to a multilayer EXR in a scratch folder, reads it back into numpy and
deletes it (bpy 5.0 has no in-memory readback in background mode).

Outdoors the ground is either a procedural plane or, when the appearance has
no ground material, a shadow catcher: it shows the HDRI below its horizon with
the person's shadow on it. A take's props (seats, beds, steps) are boxes, and a view's
background picture is what camera rays see instead of the HDRI (the ground
then carries ``PICTURE_PASS_INDEX``, which decodes as no surface); every other
ray still sees the HDRI (docs/SCENES.md).

The room is lit by its ceiling lights plus the HDRI as ambient light: the
ceiling is seen by cameras but invisible to shadow and bounce rays, so the
HDRI still shines in from above (like a skylight), while the walls block its
view. The sun stays off indoors. Only the bodies have an Object Index
(body k: ``BODY_PASS_INDEX + k``), so the person masks and parts stay the
bodies' alone, and furniture in front of a body hides it in the mask as it
does in the image.

Several bodies: each is its own mesh object with its own point cache, part
materials and clothing node groups (so each wears its own look), built the
first time a clip has that many bodies and hidden from clips with fewer.

Animation goes through a PC2 point-cache file, written by numpy and read by a
Mesh Cache modifier. Per-frame ``foreach_set`` from Python would also be exact,
but it leaves Blender's Vector (optical-flow) pass at zero, and it runs Python
per frame; the point cache costs one file write per clip and keeps the flow
pass usable should it be added.

Labels and the pixel filter: Cycles writes Depth, Object Index and Material
Index from each pixel's first sample only, and in bpy 5.0.1 that sample goes
through the pixel centre (measured: within 0.002 px, whatever the filter
width). Mask, parts and depth are therefore exact point samples at pixel
centres, the convention of ``cameras.project``, while the RGB stays
anti-aliased by the 1.5 px filter. Normal is a mean over all samples, so on
silhouette pixels it blends the surfaces there (renormalised).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import math
import os
import shutil
import struct
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from synthact.body.skeleton import PART_NAMES, face_parts
from synthact.render.exr import BODY_PASS_INDEX, PICTURE_PASS_INDEX, decode_frame, read_passes
from synthact.render.renderer import FrameSink, RenderedClip, RenderSettings
from synthact.scene import room as room_layout
from synthact.scene.appearance import GARMENTS, Appearance, Surface, garment_of_part
from synthact.scene.cameras import Camera

NUM_PARTS = len(PART_NAMES) - 1  # 16; id 0 is background
PASSES = (
    "use_pass_combined",
    "use_pass_z",
    "use_pass_normal",
    "use_pass_object_index",
    "use_pass_material_index",
)

_GROUND_HALF_SIZE_M = 100.0
_SENSOR_WIDTH_MM = 36.0  # arbitrary: only lens / sensor width matters
_REST_ATTRIBUTE = "synthact_rest"  # per-vertex coordinates the clothing patterns follow
_OPENCV_TO_BLENDER_CAM = np.diag([1.0, -1.0, -1.0])  # y down/z forward → y up/z backward


def _import_bpy() -> ModuleType:
    """Import bpy, or explain what is missing."""
    try:
        import bpy
    except ImportError as err:
        raise ImportError(
            "synthact.render.blender needs Blender as a Python module: "
            "`pip install bpy==5.0.1` (it requires Python 3.11)"
        ) from err
    return bpy


@functools.cache
def hdri_dir() -> Path:
    """Folder of the CC0 HDRIs shipped inside the bpy wheel (license.txt beside them).

    Found from bpy's install location, so bpy is not imported.
    """
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bpy is not installed: `pip install bpy==5.0.1`")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.glob("*/datafiles/studiolights/world"))
    if not found:
        raise FileNotFoundError(f"no datafiles/studiolights/world under {root}")
    return found[-1]


def available_hdris() -> list[str]:
    """Names (file stems) of the bundled HDRIs, sorted."""
    return sorted(p.stem for p in hdri_dir().glob("*.exr"))


# --- pure numpy helpers (tested without Blender) -------------------------------------


def blender_camera_params(camera: Camera) -> tuple[float, float, float, np.ndarray]:
    """Blender camera settings equal to an OpenCV pinhole camera.

    The sensor is fitted horizontally, so ``lens / sensor_width = fx / W`` and
    shifts are fractions of the image width, whatever the aspect ratio.

    Args:
        camera: K (pixels, no skew, fx == fy), R and t (world → OpenCV camera).

    Returns:
        (lens_mm for a 36 mm wide sensor, shift_x, shift_y, 4x4 matrix_world).

    Raises:
        ValueError: Skew, non-square pixels, or R not a rotation.
    """
    K = np.asarray(camera.K, np.float64)
    R = np.asarray(camera.R, np.float64)
    t = np.asarray(camera.t, np.float64).reshape(3)
    w, h = int(camera.width), int(camera.height)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if abs(K[0, 1]) > 1e-9 * fx or not np.allclose(K[2], (0.0, 0.0, 1.0)):
        raise ValueError(f"unsupported intrinsics (skew or bad last row):\n{K}")
    if not math.isclose(fx, fy, rel_tol=1e-6):
        raise ValueError(f"fx={fx} != fy={fy}: Blender needs square pixels here")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
        raise ValueError(f"R is not a rotation:\n{R}")
    u, _, vt = np.linalg.svd(R)  # re-orthonormalise float32 round-off
    R = u @ vt
    matrix = np.eye(4)
    matrix[:3, :3] = R.T @ _OPENCV_TO_BLENDER_CAM
    matrix[:3, 3] = -R.T @ t
    lens = fx * _SENSOR_WIDTH_MM / w
    # Blender's shift moves the image window by shift * width pixels, with y up.
    return lens, (w / 2.0 - cx) / w, (cy - h / 2.0) / w, matrix


def write_pc2(path: Path, vertices: np.ndarray) -> None:
    """Write a PC2 point cache: a 32-byte header, then float32 (T, V, 3) little-endian."""
    verts = np.ascontiguousarray(vertices, dtype="<f4")
    frames, count, _ = verts.shape
    header = struct.pack("<12siiffi", b"POINTCACHE2\0", 1, count, 0.0, 1.0, frames)
    with open(path, "wb") as f:
        f.write(header)
        f.write(verts.tobytes())


@contextlib.contextmanager
def _stdout_silenced(enabled: bool) -> Iterator[None]:
    """Send file descriptor 1 to /dev/null, where Blender's C code prints its log."""
    try:
        saved = os.dup(1) if enabled else -1
    except OSError:  # no stdout at all: nothing to hide
        saved = -1
    if saved < 0:
        yield
        return
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        libc.fflush(None)  # C stdio buffers still hold lines meant for /dev/null
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _socket(sockets: Any, identifier: str) -> Any:
    """A node socket by identifier (names repeat, e.g. the Mix node's several 'A')."""
    return next(s for s in sockets if s.identifier == identifier)


# --- the scene ---------------------------------------------------------------------


SCRATCH_PREFIX = "synthact-render-"


def _sweep_stale_scratch(root: Path) -> None:
    """Remove scratch folders of render processes that no longer run.

    A killed or requeued task never reaches its cleanup, and /dev/shm is
    memory: on a long-lived node these folders would pile up.
    """
    for folder in root.glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # alive, another user's


class BlenderScene:
    """The one Blender scene of this process, reused for every clip.

    Building a new ``BlenderScene`` resets Blender and invalidates the previous
    one (bpy holds one global state per process).
    """

    _generation = 0

    def __init__(
        self,
        settings: RenderSettings,
        faces: np.ndarray,
        vertex_part: np.ndarray,
        face_uv: np.ndarray | None = None,
        textures_dir: str | Path | None = None,
        hdri_folder: str | Path | None = None,
        backgrounds_dir: str | Path | None = None,
    ):
        """Build the scene.

        Args:
            settings: Resolution, device, samples, ...
            faces: (F, 3) vertex indices of the body's triangles.
            vertex_part: (V,) uint8 part id (1..16) of each vertex.
            face_uv: (F, 3, 2) UVs per face corner (``textures.read_uv_file``);
                needed for appearances with a ``texture``.
            textures_dir: Folder the appearances' ``texture`` names are in.
            hdri_folder: Folder the appearances' ``hdri`` file names are in
                (``randomize.hdri_dir``); None: the bundled HDRIs, by stem.
            backgrounds_dir: Folder the appearances' ``backgrounds`` are in.
        """
        faces = np.asarray(faces)
        vertex_part = np.asarray(vertex_part)
        if face_uv is not None and np.shape(face_uv) != (len(faces), 3, 2):
            raise ValueError(f"face_uv must be ({len(faces)}, 3, 2), got {np.shape(face_uv)}")
        self._textures_dir = Path(textures_dir) if textures_dir is not None else None
        self._hdri_folder = Path(hdri_folder) if hdri_folder is not None else None
        self._backgrounds_dir = Path(backgrounds_dir) if backgrounds_dir is not None else None
        if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0:
            raise ValueError(f"faces must be (F, 3) non-negative indices, got {faces.shape}")
        if faces.max() >= len(vertex_part):
            raise ValueError("faces index beyond vertex_part")
        if vertex_part.min() < 1 or vertex_part.max() > NUM_PARTS:
            raise ValueError(f"vertex_part must be in 1..{NUM_PARTS}")
        self.settings = settings
        self.num_vertices = len(vertex_part)
        self._bpy = _import_bpy()
        BlenderScene._generation += 1
        self._generation_id = BlenderScene._generation
        root = settings.scratch_dir or (Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir()))
        _sweep_stale_scratch(root)
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=root))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.scratch, True)
        self._clips = 0

        self._bpy.ops.wm.read_factory_settings(use_empty=True)
        self._scene = self._bpy.context.scene
        self._configure_render()
        self._configure_device()
        self._world = self._build_world()
        self._sun = self._build_sun()
        self._filtered_groups: list[Any] = []
        self._groups = {g: self._surface_group(f"surface_{g}", on_body=True) for g in GARMENTS}
        self._ground_group = self._surface_group("surface_ground", on_body=False)
        self._texture_group = self._textured_group() if face_uv is not None else None
        self._ground = self._build_ground()
        self._room = self._build_room() if settings.scene == "room" else None
        self._prop_group = self._surface_group("surface_props", on_body=False)
        self._prop_material = self._group_material("props", self._prop_group, pass_index=0)
        self._props: list[Any] = []  # boxes, reused from clip to clip; the unused ones hidden
        self._faces, self._vertex_part, self._face_uv = faces, vertex_part, face_uv
        materials = self._part_materials(self._groups, "")
        self._bodies = [_Body(self._build_body(0, materials), self._groups, self._texture_group, materials)]
        self._camera = self._build_camera()
        self._drive_footprints(self._filtered_groups)

    # --- build (once) ---

    def _configure_render(self) -> None:
        s, sc = self.settings, self._scene
        r = sc.render
        r.engine = "CYCLES"
        r.resolution_x, r.resolution_y, r.resolution_percentage = s.width, s.height, 100
        r.pixel_aspect_x = r.pixel_aspect_y = 1.0
        r.use_motion_blur = False  # would blend neighbouring frames into the labels
        r.film_transparent = False  # the HDRI is the visible background
        r.use_compositing = r.use_sequencer = False
        # Keep Cycles' scene (images, shaders, light maps) between frames; only the
        # deformed body is re-synced.
        r.use_persistent_data = True
        r.threads_mode = "FIXED" if s.threads else "AUTO"
        if s.threads:
            r.threads = s.threads
        im = r.image_settings
        im.media_type = "MULTI_LAYER_IMAGE"
        im.color_depth = "32"  # float32 depth: half would round metres to mm steps
        im.exr_codec = "NONE"  # scratch files live for milliseconds
        # Only the EXR's linear data is used; 'Standard' keeps any preview unmodified.
        sc.view_settings.view_transform = "Standard"
        sc.view_settings.look = "None"
        c = sc.cycles
        c.samples = s.samples
        c.use_adaptive_sampling = s.adaptive_sampling
        c.adaptive_threshold = s.adaptive_threshold
        c.max_bounces = s.max_bounces
        for name in ("diffuse_bounces", "glossy_bounces", "transmission_bounces", "volume_bounces"):
            setattr(c, name, min(getattr(c, name), s.max_bounces))
        c.transparent_max_bounces = max(c.transparent_max_bounces, 1)
        # Denoising only ever changes Combined: Depth, Normal and the index
        # passes are written before it (tests/test_render_quality.py checks).
        c.use_denoising = s.denoise
        c.denoiser = "OPENIMAGEDENOISE"
        c.denoising_input_passes = "RGB_ALBEDO_NORMAL"
        c.denoising_prefilter = s.denoise_prefilter
        c.use_animated_seed = True  # noise changes per frame, still a function of the seed
        c.filter_width = s.filter_width
        c.caustics_reflective = c.caustics_refractive = False  # fireflies at low samples
        layer = sc.view_layers[0]
        for name in PASSES:
            setattr(layer, name, True)

    def _configure_device(self) -> None:
        device = self.settings.device
        cycles = self._scene.cycles
        if device == "CPU":
            cycles.device = "CPU"
            return
        prefs = self._bpy.context.preferences.addons["cycles"].preferences
        try:
            prefs.compute_device_type = device
        except TypeError as err:
            raise RuntimeError(f"this Blender build does not support {device}") from err
        prefs.refresh_devices()
        found = [d for d in prefs.devices if d.type == device]
        if not found:
            raise RuntimeError(
                f"render.device {device}: Cycles finds no {device} device here (driver or GPU missing?); "
                "set render.device: CPU or run where the GPU is"
            )
        for d in prefs.devices:
            d.use = d.type == device
        cycles.device = "GPU"
        cycles.denoising_use_gpu = True

    def _build_world(self) -> dict[str, Any]:
        bpy = self._bpy
        world = bpy.data.worlds.new("world")
        self._scene.world = world
        # Cycles builds an importance map of the HDRI for light sampling. At the
        # automatic size (the image's) that took ~1.2 s per frame on 2 cores;
        # 512 costs little and, with persistent data, is built once per clip.
        world.cycles.sampling_method = "MANUAL"
        world.cycles.sample_map_resolution = 512
        nodes, links = world.node_tree.nodes, world.node_tree.links
        nodes.clear()
        coord = nodes.new("ShaderNodeTexCoord")
        mapping = nodes.new("ShaderNodeMapping")
        env = nodes.new("ShaderNodeTexEnvironment")
        bg = nodes.new("ShaderNodeBackground")
        out = nodes.new("ShaderNodeOutputWorld")
        links.new(coord.outputs["Generated"], mapping.inputs["Vector"])
        links.new(mapping.outputs["Vector"], env.inputs["Vector"])
        links.new(env.outputs["Color"], bg.inputs["Color"])
        # A picture behind the person: camera rays see it, fitted to the frame, while
        # every other ray (the light on the person) still sees the HDRI.
        picture = nodes.new("ShaderNodeTexImage")
        picture.extension = "EXTEND"
        links.new(coord.outputs["Window"], picture.inputs["Vector"])
        backplate = nodes.new("ShaderNodeBackground")
        links.new(picture.outputs["Color"], backplate.inputs["Color"])
        path = nodes.new("ShaderNodeLightPath")
        use = nodes.new("ShaderNodeMath")
        use.operation = "MULTIPLY"
        links.new(path.outputs["Is Camera Ray"], use.inputs[0])
        mix = nodes.new("ShaderNodeMixShader")
        links.new(use.outputs[0], mix.inputs["Fac"])
        links.new(bg.outputs["Background"], mix.inputs[1])
        links.new(backplate.outputs["Background"], mix.inputs[2])
        links.new(mix.outputs["Shader"], out.inputs["Surface"])
        return {"mapping": mapping, "env": env, "background": bg, "picture": picture, "use_picture": use}

    def _build_sun(self) -> Any:
        bpy = self._bpy
        light = bpy.data.lights.new("sun", "SUN")
        light.angle = math.radians(2.0)  # slightly soft shadows
        sun = bpy.data.objects.new("sun", light)
        self._scene.collection.objects.link(sun)
        return sun

    def _surface_group(self, name: str, on_body: bool) -> Any:
        """A shader node group: pattern textures → colour mix → Principled BSDF.

        The body's patterns follow the ``synthact_rest`` attribute (the clip's
        first frame), so clothing texture moves with the body instead of
        sliding through it; the ground's follow its object coordinates.
        """
        group = self._bpy.data.node_groups.new(name, "ShaderNodeTree")
        group.interface.new_socket(name="Shader", in_out="OUTPUT", socket_type="NodeSocketShader")
        nodes, links = group.nodes, group.links
        if on_body:
            source = nodes.new("ShaderNodeAttribute")
            source.attribute_type = "GEOMETRY"
            source.attribute_name = _REST_ATTRIBUTE
            vector = source.outputs["Vector"]
        else:
            vector = nodes.new("ShaderNodeTexCoord").outputs["Object"]
        for pattern, kind in (
            ("noise", "ShaderNodeTexNoise"),
            ("stripes", "ShaderNodeTexWave"),
            ("checker", "ShaderNodeTexChecker"),
        ):
            tex = nodes.new(kind)
            tex.name = pattern
            links.new(vector, tex.inputs["Vector"])
        nodes["stripes"].bands_direction = "Z"  # horizontal stripes on an upright body
        nodes["checker"].inputs["Color1"].default_value = (1.0, 1.0, 1.0, 1.0)
        nodes["checker"].inputs["Color2"].default_value = (0.0, 0.0, 0.0, 1.0)
        mix = nodes.new("ShaderNodeMix")
        mix.name, mix.data_type = "mix", "RGBA"
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        bsdf.name = "bsdf"
        out = nodes.new("NodeGroupOutput")
        links.new(_socket(mix.outputs, "Result_Color"), bsdf.inputs["Base Color"])
        links.new(bsdf.outputs["BSDF"], out.inputs[0])
        self._footprint_filter(group)
        self._filtered_groups.append(group)
        return group

    def _footprint_filter(self, group: Any) -> None:
        """Fade a pattern to its mean where its features shrink below the pixel footprint.

        A pattern finer than a pixel aliases into speckle at few samples. The
        footprint of a pixel on the surface is view distance x pixel angle /
        |cos(incidence)|; with ``r`` = feature size / footprint, the pattern's
        contrast is scaled by clamp((r - 1) / 2, 0, 1): none below one pixel
        per feature, all of it from three. ``filter_in`` takes the pattern's
        Fac; ``filter_out`` gives the mix factor. ``feature`` is set per
        surface (``_set_surface``), ``pixel_angle`` by a driver on the camera.
        """
        nodes, links = group.nodes, group.links

        def math(op: str, a: Any, b: Any, name: str = "", clamp: bool = False) -> Any:
            node = nodes.new("ShaderNodeMath")
            node.operation, node.use_clamp = op, clamp
            if name:
                node.name = name
            for socket, value in zip(node.inputs, (a, b), strict=False):  # a math node has 3 inputs
                if isinstance(value, float):
                    socket.default_value = value
                else:
                    links.new(value, socket)
            return node.outputs[0]

        camera = nodes.new("ShaderNodeCameraData")
        geometry = nodes.new("ShaderNodeNewGeometry")
        dot = nodes.new("ShaderNodeVectorMath")
        dot.operation = "DOT_PRODUCT"
        links.new(geometry.outputs["Normal"], dot.inputs[0])
        links.new(geometry.outputs["Incoming"], dot.inputs[1])
        pixel = nodes.new("ShaderNodeValue")
        pixel.name = "pixel_angle"
        pixel.outputs[0].default_value = 1.0 / max(self.settings.width, 1)
        feature = nodes.new("ShaderNodeValue")
        feature.name = "feature"
        cosine = math("MAXIMUM", math("ABSOLUTE", dot.outputs["Value"], 0.0), 0.05)
        footprint = math("DIVIDE", math("MULTIPLY", camera.outputs["View Distance"], pixel.outputs[0]), cosine)
        ratio = math("DIVIDE", feature.outputs[0], footprint)
        fade = math("MULTIPLY", math("SUBTRACT", ratio, 1.0), 0.5, clamp=True)
        centred = math("SUBTRACT", 0.5, 0.5, name="filter_in")  # input 0 is linked to the pattern
        math("ADD", math("MULTIPLY", centred, fade), 0.5, name="filter_out")

    def _drive_footprints(self, groups: Sequence[Any]) -> None:
        """Keep every filter's ``pixel_angle`` = sensor width / (lens x image width), per frame."""
        data = self._camera.data
        for group in groups:
            socket = group.nodes["pixel_angle"].outputs[0]
            driver = socket.driver_add("default_value").driver
            driver.type = "SCRIPTED"
            for name, path in (("lens", "lens"), ("sensor", "sensor_width")):
                var = driver.variables.new()
                var.name, var.type = name, "SINGLE_PROP"
                var.targets[0].id_type = "CAMERA"
                var.targets[0].id = data
                var.targets[0].data_path = path
            # A simple expression: Blender evaluates it without Python.
            driver.expression = f"sensor / (lens * {float(self.settings.width)})"

    def _textured_group(self, suffix: str = "") -> Any:
        """Image texture on the body's UV map → Principled BSDF: the whole body from one image."""
        group = self._bpy.data.node_groups.new(f"surface_texture{suffix}", "ShaderNodeTree")
        group.interface.new_socket(name="Shader", in_out="OUTPUT", socket_type="NodeSocketShader")
        nodes, links = group.nodes, group.links
        uv = nodes.new("ShaderNodeUVMap")
        uv.uv_map = "UVMap"
        image = nodes.new("ShaderNodeTexImage")
        image.name = "image"
        image.interpolation = "Cubic"  # smooth when a texel covers several pixels
        image.extension = "EXTEND"
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        bsdf.name = "bsdf"
        bsdf.inputs["Roughness"].default_value = 0.7
        out = nodes.new("NodeGroupOutput")
        links.new(uv.outputs["UV"], image.inputs["Vector"])
        links.new(image.outputs["Color"], bsdf.inputs["Base Color"])
        links.new(bsdf.outputs["BSDF"], out.inputs[0])
        return group

    def _texture(self, name: str) -> Any:
        if self._texture_group is None or self._textures_dir is None:
            raise ValueError(f"appearance texture {name!r}: this scene was built without face_uv and textures_dir")
        path = self._textures_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"texture {path} does not exist (randomize.textures_dir)")
        return self._bpy.data.images.load(str(path), check_existing=True)

    def _build_ground(self) -> Any:
        bpy = self._bpy
        mesh = bpy.data.meshes.new("ground")
        h = _GROUND_HALF_SIZE_M
        corners = [(-h, -h, 0.0), (h, -h, 0.0), (h, h, 0.0), (-h, h, 0.0)]
        mesh.from_pydata(corners, [], [(0, 1, 2, 3)])
        material = self._group_material("ground", self._ground_group, pass_index=0)
        mesh.materials.append(material)
        ground = bpy.data.objects.new("ground", mesh)
        ground.pass_index = 0  # not the person
        self._scene.collection.objects.link(ground)
        return ground

    def _build_room(self) -> dict[str, Any]:
        """Walls, ceiling, furniture and ceiling lights under one parent, moved per clip."""
        bpy = self._bpy
        root = bpy.data.objects.new("room", None)
        self._scene.collection.objects.link(root)
        groups = {m: self._surface_group(f"surface_room_{m}", on_body=False) for m in room_layout.MATERIALS}
        materials = {m: self._group_material(f"room_{m}", groups[m], pass_index=0) for m in room_layout.MATERIALS}
        for block in room_layout.room_blocks():
            self._add_box(block.name, block.centre, block.size, materials[block.material], root)
        hx, hy = room_layout.ROOM_SIZE_M[0] / 2, room_layout.ROOM_SIZE_M[1] / 2
        ceiling = self._add_box(
            "ceiling",
            (0.0, 0.0, room_layout.WALL_HEIGHT_M + 0.05),
            (2 * hx + 0.2, 2 * hy + 0.2, 0.1),
            materials["wall"],
            root,
        )
        # Seen by cameras only: the HDRI still lights the room through it (module doc).
        ceiling.visible_shadow = ceiling.visible_diffuse = ceiling.visible_glossy = False
        ceiling.visible_transmission = ceiling.visible_volume_scatter = False
        lights = []
        for i, centre in enumerate(room_layout.ceiling_lights()):
            data = bpy.data.lights.new(f"ceiling_light_{i}", "AREA")
            data.shape, data.size = "SQUARE", room_layout.CEILING_LIGHT_SIZE_M
            light = bpy.data.objects.new(f"ceiling_light_{i}", data)  # shines along its -Z: down
            light.location, light.parent = centre, root
            self._scene.collection.objects.link(light)
            lights.append(light)
        return {"root": root, "groups": groups, "lights": lights}

    def _add_box(self, name: str, centre: tuple, size: tuple, material: Any, parent: Any) -> Any:
        """An axis-aligned box; vertices in metres about its centre, so patterns keep their scale."""
        bpy = self._bpy
        hx, hy, hz = (v / 2 for v in size)
        corners = [(x, y, z) for z in (-hz, hz) for y in (-hy, hy) for x in (-hx, hx)]
        quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata(corners, [], quads)
        mesh.materials.append(material)
        box = bpy.data.objects.new(name, mesh)
        box.location, box.parent = centre, parent
        box.pass_index = 0  # not the person
        self._scene.collection.objects.link(box)
        return box

    def _group_material(self, name: str, group: Any, pass_index: int) -> Any:
        material = self._bpy.data.materials.new(name)
        material.pass_index = pass_index  # → the Material Index pass
        nodes, links = material.node_tree.nodes, material.node_tree.links
        nodes.clear()
        node = nodes.new("ShaderNodeGroup")
        node.name, node.node_tree = "surface", group
        out = nodes.new("ShaderNodeOutputMaterial")
        links.new(node.outputs[0], out.inputs["Surface"])
        return material

    def _part_materials(self, groups: dict[str, Any], suffix: str) -> list[Any]:
        return [
            self._group_material(f"part_{PART_NAMES[p]}{suffix}", groups["skin"], pass_index=p)
            for p in range(1, NUM_PARTS + 1)
        ]

    def _add_body(self) -> _Body:
        """Body k = len(self._bodies), with clothing groups and part materials of its own."""
        k = len(self._bodies)
        first = len(self._filtered_groups)
        groups = {g: self._surface_group(f"surface_{g}_{k}", on_body=True) for g in GARMENTS}
        texture_group = self._textured_group(f"_{k}") if self._face_uv is not None else None
        materials = self._part_materials(groups, f"_{k}")
        self._drive_footprints(self._filtered_groups[first:])
        body = _Body(self._build_body(k, materials), groups, texture_group, materials)
        self._bodies.append(body)
        return body

    def _build_body(self, k: int, materials: list[Any]) -> Any:
        bpy = self._bpy
        faces, vertex_part = self._faces, self._vertex_part
        n_faces = len(faces)
        name = "body" if k == 0 else f"body_{k}"
        mesh = bpy.data.meshes.new(name)
        mesh.vertices.add(self.num_vertices)
        mesh.loops.add(3 * n_faces)
        mesh.polygons.add(n_faces)
        mesh.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
        mesh.polygons.foreach_set("loop_start", np.arange(0, 3 * n_faces, 3, dtype=np.int32))
        slots = face_parts(faces, vertex_part).astype(np.int32) - 1  # slot p-1 holds part p
        mesh.polygons.foreach_set("material_index", slots)
        mesh.update(calc_edges=True)
        mesh.shade_smooth()
        mesh.attributes.new(_REST_ATTRIBUTE, "FLOAT_VECTOR", "POINT")
        for material in materials:
            mesh.materials.append(material)
        if self._face_uv is not None:
            uv = mesh.uv_layers.new(name="UVMap")
            uv.data.foreach_set("uv", np.asarray(self._face_uv, np.float32).ravel())
        body = bpy.data.objects.new(name, mesh)
        body.pass_index = BODY_PASS_INDEX + k  # body k's instance in the Object Index pass
        self._scene.collection.objects.link(body)
        cache = body.modifiers.new("animation", "MESH_CACHE")
        cache.cache_format = "PC2"
        cache.time_mode, cache.play_mode = "FRAME", "SCENE"
        cache.deform_mode, cache.interpolation = "OVERWRITE", "NONE"
        cache.frame_start = 1.0  # default 0 would shift the animation by one frame
        return body

    def _build_camera(self) -> Any:
        bpy = self._bpy
        data = bpy.data.cameras.new("camera")
        data.sensor_fit = "HORIZONTAL"  # lens and shift refer to the width at any aspect
        data.sensor_width = _SENSOR_WIDTH_MM
        data.clip_start, data.clip_end = 0.01, 1000.0
        camera = bpy.data.objects.new("camera", data)
        self._scene.collection.objects.link(camera)
        self._scene.camera = camera
        return camera

    # --- per clip ---

    def render_clip(
        self,
        vertices: np.ndarray,
        cameras: Camera | Sequence[Camera],
        appearance: Appearance,
        progress: Callable[[int], None] | None = None,
        seed: int = 0,
        room_origin: Sequence[float] = (0.0, 0.0),
        frame_sink: FrameSink | None = None,
        view: str | None = None,
    ) -> RenderedClip | None:
        """Render every frame of one clip (a take's window) from one view.

        Args:
            vertices: (T, V, 3) posed body vertices, world Z-up, metres, or
                (T, P, V, 3) for P bodies (body k: instance k + 1). A body
                collapsed to one point in a frame draws nothing there.
            cameras: One camera per frame (a camera that follows the actor), or one
                for every frame; sizes must match the settings.
            appearance: Lighting, clothing and ground (the same for every view
                of a clip); with the room scene it must carry ``room``; body k
                wears ``appearance.look(k)``.
            progress: Called with the number of frames done after each frame.
            seed: Cycles noise seed (taken modulo 2**31); with the same inputs
                and seed the output arrays are identical.
            room_origin: World XY of the room's centre (room scene only): the
                clip's path centre, where the room rig's cameras are placed.
            frame_sink: Called as ``frame_sink(i, exr_path, camera)`` right after
                frame i is rendered, instead of reading it here: the sink owns
                the EXR file (reads it with ``exr.read_passes``, decodes it with
                ``exr.decode_frame``, deletes it), so a render loop can do that
                on another thread while the next frame renders.
            view: The view's name: picks its picture from ``appearance.backgrounds``.

        Returns:
            The clip's RGB, depth, mask, parts and normals; None with a ``frame_sink``.
        """
        if self._generation_id != BlenderScene._generation:
            raise RuntimeError("a newer BlenderScene replaced this one; use that one")
        verts = np.asarray(vertices, np.float32)
        verts = verts[:, None] if verts.ndim == 3 else verts
        if verts.ndim != 4 or verts.shape[2:] != (self.num_vertices, 3) or 0 in verts.shape[:2]:
            raise ValueError(
                f"vertices must be (T, {self.num_vertices}, 3) or (T, P, {self.num_vertices}, 3), got {verts.shape}"
            )
        if appearance.num_persons < verts.shape[1]:
            raise ValueError(f"{verts.shape[1]} bodies, but the appearance dresses {appearance.num_persons}")
        if not np.isfinite(verts).all():
            raise ValueError("vertices contain NaN or inf")
        if self._room is not None and appearance.room is None:
            raise ValueError("the room scene needs an appearance with a room (sample_appearance(..., room=True))")
        per_frame = [cameras] * len(verts) if isinstance(cameras, Camera) else list(cameras)
        if len(per_frame) != len(verts):
            raise ValueError(f"{len(per_frame)} cameras for {len(verts)} frames")
        for camera in {(c.width, c.height) for c in per_frame}:
            if camera != (self.settings.width, self.settings.height):
                raise ValueError(
                    f"camera is {camera[0]}x{camera[1]}, settings are {self.settings.width}x{self.settings.height}"
                )
        self._clips += 1
        bodies = verts.shape[1]
        caches = [self.scratch / f"clip{self._clips:06d}-body{k}.pc2" for k in range(bodies)]
        try:
            self._show_bodies(bodies)
            for k, cache in enumerate(caches):
                write_pc2(cache, verts[:, k])
                self._set_animation(self._bodies[k].obj, cache, verts[0, k], len(verts))
            self._check_animation(verts)
            self._apply_appearance(appearance)
            if self._room is not None:
                self._place_room(appearance, room_origin)
            self._place_props(appearance)
            self._set_backplate(appearance.backgrounds.get(view) if view is not None else None)
            self._scene.cycles.seed = seed % 2**31
            return self._render_frames(per_frame, progress, frame_sink, bodies)
        finally:
            for cache in caches:
                cache.unlink(missing_ok=True)

    def _show_bodies(self, count: int) -> None:
        """Bodies 0 .. count - 1 render (built on first use); the others are hidden."""
        while len(self._bodies) < count:
            self._add_body()
        for k, body in enumerate(self._bodies):
            # Out of the viewport's depsgraph too: a hidden body's point cache is already deleted.
            body.obj.hide_render = body.obj.hide_viewport = k >= count

    def _set_animation(self, obj: Any, cache: Path, rest: np.ndarray, frames: int) -> None:
        mesh = obj.data
        mesh.attributes[_REST_ATTRIBUTE].data.foreach_set("vector", rest.ravel())
        mesh.update()
        obj.modifiers["animation"].filepath = str(cache)
        self._scene.frame_start, self._scene.frame_end = 1, frames

    def _check_animation(self, verts: np.ndarray) -> None:
        """Fail loudly if a body's point cache was not read, or is read a frame off.

        Blender only prints Mesh Cache errors (and renders the rest mesh). The
        first and last frames catch a shift either way; ~1 ms each.
        """
        for frame in sorted({1, len(verts)}):
            self._scene.frame_set(frame)
            depsgraph = self._bpy.context.evaluated_depsgraph_get()
            for k in range(verts.shape[1]):
                evaluated = self._bodies[k].obj.evaluated_get(depsgraph)
                mesh = evaluated.to_mesh()
                try:
                    got = np.empty(3 * len(mesh.vertices), np.float32)
                    mesh.vertices.foreach_get("co", got)
                finally:
                    evaluated.to_mesh_clear()
                if not np.allclose(got.reshape(-1, 3), verts[frame - 1, k], atol=1e-5):
                    raise RuntimeError(f"Blender's Mesh Cache did not reproduce frame {frame} of body {k}")

    def _set_camera(self, camera: Camera) -> None:
        from mathutils import Matrix  # ships with bpy

        lens, shift_x, shift_y, matrix = blender_camera_params(camera)
        data = self._camera.data
        data.lens, data.shift_x, data.shift_y = lens, shift_x, shift_y
        self._camera.matrix_world = Matrix(matrix.tolist())

    def _apply_appearance(self, appearance: Appearance) -> None:
        world = self._world
        world["env"].image = self._hdri(appearance.hdri)
        turn = math.radians(appearance.hdri_rotation_deg)
        world["mapping"].inputs["Rotation"].default_value = (0.0, 0.0, turn)
        world["background"].inputs["Strength"].default_value = appearance.hdri_strength
        self._sun.hide_render = appearance.sun_strength <= 0.0 or self._room is not None  # no sun indoors
        self._sun.data.energy = appearance.sun_strength
        # A sun shines along its local -Z: tilt it down from the zenith, then turn it.
        tilt = math.radians(90.0 - appearance.sun_elevation_deg)
        self._sun.rotation_euler = (tilt, 0.0, math.radians(appearance.sun_azimuth_deg))
        # Without a ground material the plane is a shadow catcher: it shows what the
        # HDRI shows below its horizon, darkened by the shadows that fall on it.
        self._ground.is_shadow_catcher = appearance.ground is None
        if appearance.ground is not None:
            _set_surface(self._ground_group, appearance.ground)
        for k, body in enumerate(self._bodies[: appearance.num_persons]):
            self._dress(body, appearance.worn_by(k))

    def _dress(self, body: _Body, look: Appearance) -> None:
        """Point one body's part materials at its garments (or its texture) in ``look``."""
        for garment, surface in look.garment_surfaces().items():
            _set_surface(body.groups[garment], surface)
        if look.texture is not None:
            assert body.texture_group is not None, "a texture was drawn, but the scene has no UV layout"
            body.texture_group.nodes["image"].image = self._texture(look.texture)
            groups = [body.texture_group] * (NUM_PARTS + 1)
        else:
            groups = [body.groups[garment] for garment in garment_of_part(look)]
        for part, material in enumerate(body.materials, start=1):
            material.node_tree.nodes["surface"].node_tree = groups[part]

    def _set_backplate(self, name: str | None) -> None:
        """Show picture ``name`` behind the person, on a shadow-catching ground that is no surface; None: the HDRI."""
        world = self._world
        world["use_picture"].inputs[1].default_value = 0.0 if name is None else 1.0
        if name is None:
            self._ground.pass_index = 0
            return
        if self._backgrounds_dir is None:
            raise ValueError(f"appearance background {name!r}: this scene was built without backgrounds_dir")
        path = self._backgrounds_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"background {path} does not exist (randomize.backgrounds_dir)")
        world["picture"].image = self._bpy.data.images.load(str(path), check_existing=True)
        # The person's shadow falls on the picture; the ground under it is the picture's, not ours.
        self._ground.is_shadow_catcher = True
        self._ground.pass_index = PICTURE_PASS_INDEX

    def _place_props(self, appearance: Appearance) -> None:
        """One box per prop (a seat, bed or step), in its place; boxes left over are hidden."""
        while len(self._props) < len(appearance.props):
            box = self._add_box(f"prop_{len(self._props)}", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), self._prop_material, None)
            self._props.append(box)
        for box, prop in zip(self._props, appearance.props, strict=False):
            hx, hy, hz = (v / 2 for v in prop.size)
            # Vertices in metres about the centre, so the fabric's pattern keeps its scale.
            corners = [(x, y, z) for z in (-hz, hz) for y in (-hy, hy) for x in (-hx, hx)]
            box.data.vertices.foreach_set("co", np.asarray(corners, np.float32).ravel())
            box.data.update()
            box.location = prop.centre
            box.rotation_euler = (0.0, 0.0, math.radians(prop.yaw_deg))
            box.hide_render = False
        for box in self._props[len(appearance.props) :]:
            box.hide_render = True
        if appearance.prop_surface is not None:
            _set_surface(self._prop_group, appearance.prop_surface)

    def _place_room(self, appearance: Appearance, origin: Sequence[float]) -> None:
        """Centre the room on ``origin`` and apply its materials and lights."""
        look = appearance.room
        assert look is not None and self._room is not None
        self._room["root"].location = (float(origin[0]), float(origin[1]), 0.0)
        for material in room_layout.MATERIALS:
            _set_surface(self._room["groups"][material], getattr(look, material))
        for light in self._room["lights"]:
            light.data.energy = look.light_w
        # The HDRI is ambient light indoors, dimmer than outdoors.
        strength = appearance.hdri_strength * look.sky_strength
        self._world["background"].inputs["Strength"].default_value = strength

    def _hdri(self, name: str) -> Any:
        if self._hdri_folder is not None:
            path = self._hdri_folder / name
            if not path.is_file():
                raise FileNotFoundError(f"HDRI {path} does not exist (randomize.hdri_dir)")
        else:
            path = hdri_dir() / f"{name}.exr"
            if not path.is_file():
                raise ValueError(f"unknown HDRI {name!r}; available: {available_hdris()}")
        # check_existing: each HDRI is loaded once per process, however many clips use it.
        image = self._bpy.data.images.load(str(path), check_existing=True)
        self._release_other_hdris(image)
        return image

    def _release_other_hdris(self, keep: Any) -> None:
        """Free the user's HDRIs other than ``keep``: a folder of 8K maps would fill memory one take at a time."""
        if self._hdri_folder is None:
            return  # the bundled eight are small, and cheaper kept
        folder = str(self._hdri_folder)
        for image in list(self._bpy.data.images):
            if image != keep and image.filepath.startswith(folder):
                self._bpy.data.images.remove(image)

    def _render_frames(
        self,
        cameras: list[Camera],
        progress: Callable[[int], None] | None,
        frame_sink: FrameSink | None = None,
        bodies: int = 1,
    ) -> RenderedClip | None:
        s = self.settings
        out = None if frame_sink is not None else RenderedClip.empty(len(cameras), s.height, s.width)
        for i, camera in enumerate(cameras):
            # A file per frame: a sink may still be reading the previous one.
            exr = self.scratch / f"clip{self._clips:06d}-frame{i:05d}.exr"
            self._scene.render.filepath = str(exr)
            self._scene.frame_current = i + 1  # the point cache's frame_start is 1
            self._set_camera(camera)
            with _stdout_silenced(s.quiet):
                self._bpy.ops.render.render(write_still=True)
            if not exr.is_file():
                raise RuntimeError(f"Blender wrote no image for frame {i + 1} ({exr})")
            if frame_sink is not None:
                frame_sink(i, exr, camera)
            else:
                passes = read_passes(exr)
                exr.unlink()
                frame = decode_frame(passes, np.asarray(camera.R), bodies)
                assert out is not None and out.rgb is not None  # allocated when no sink takes the frames
                out.rgb[i], out.depth[i], out.mask[i], out.parts[i], out.normals[i], out.instances[i] = frame
            if progress is not None:
                progress(i + 1)
        return out

    def close(self) -> None:
        """Delete the scratch folder. The Blender state stays until the process ends."""
        self._cleanup()

    def __enter__(self) -> BlenderScene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Body:
    """One body of the scene: its mesh object, clothing node groups and part materials."""

    obj: Any
    groups: dict[str, Any]  # by GARMENTS
    texture_group: Any  # None without a UV layout
    materials: list[Any]  # part p's material at p - 1


# Size of a pattern's finest feature, metres, times its Scale input: a checker
# square is 1/scale; Cycles' wave has period 2 pi / (10 scale); noise at
# detail 2 has octaves down to a quarter of 1/scale (half of it is what shows).
_FEATURE_SIZE = {"checker": 1.0, "stripes": 0.63, "noise": 0.5}


def _set_surface(group: Any, surface: Surface) -> None:
    """Point a surface node group at ``surface``: colours, pattern, roughness."""
    nodes, links = group.nodes, group.links
    mix = nodes["mix"]
    factor = _socket(mix.inputs, "Factor_Float")
    for link in list(factor.links):
        links.remove(link)
    if surface.pattern == "plain":
        factor.default_value = 0.0
    else:
        texture = nodes[surface.pattern]
        texture.inputs["Scale"].default_value = surface.scale
        filter_in = nodes["filter_in"].inputs[0]
        for link in list(filter_in.links):
            links.remove(link)
        links.new(texture.outputs["Fac"], filter_in)
        links.new(nodes["filter_out"].outputs[0], factor)
        nodes["feature"].outputs[0].default_value = _FEATURE_SIZE[surface.pattern] / max(surface.scale, 1e-6)
    _socket(mix.inputs, "A_Color").default_value = (*surface.color, 1.0)
    _socket(mix.inputs, "B_Color").default_value = (*surface.color2, 1.0)
    nodes["bsdf"].inputs["Roughness"].default_value = surface.roughness

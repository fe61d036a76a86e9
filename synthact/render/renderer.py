"""What a renderer is: its settings, its result, and the one call the render task makes.

Two engines implement ``Renderer``: Cycles through bpy (``blender.BlenderScene``,
RGB and every label pass) and a torch z-buffer (``geometry.GeometryScene``, the
label passes without RGB). The render task builds one through
``engines.render_scene`` and renders through this interface; nothing here
imports bpy or torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from synthact.scene.appearance import Appearance
from synthact.scene.cameras import Camera

DEVICES = ("CPU", "CUDA", "OPTIX")
ENGINES = ("CYCLES", "GEOMETRY")
# ``render.quality`` shortcuts, chosen from benchmarks/render_quality.py's figures
# (docs/PRESETS.md). Keys set explicitly in the config win over these.
QUALITY = {
    "draft": {"samples": 1, "denoise": True, "denoise_prefilter": "FAST", "adaptive_sampling": False, "max_bounces": 4},
    "standard": {
        "samples": 4,
        "denoise": True,
        "denoise_prefilter": "FAST",
        "adaptive_sampling": False,
        "max_bounces": 6,
    },
    "high": {
        "samples": 16,
        "denoise": True,
        "denoise_prefilter": "ACCURATE",
        "adaptive_sampling": False,
        "max_bounces": 12,
    },
}
SCENES = ("outdoor", "room")

# frame_sink(frame index in the clip, EXR path it now owns, the frame's camera)
FrameSink = Callable[[int, Path, Camera], None]


@dataclass(frozen=True)
class RenderSettings:
    """How frames are rendered; fixed for the life of a renderer.

    Attributes:
        width: Image width in pixels.
        height: Image height in pixels.
        engine: ``"CYCLES"``, or ``"GEOMETRY"`` for labels without RGB
            (``geometry.GeometryScene``; Blender's other engines write no
            index passes).
        device: ``"CPU"``, ``"CUDA"`` or ``"OPTIX"``.
        samples: Cycles samples per pixel.
        denoise: Run OpenImageDenoise on Combined, guided by albedo and
            normal; the label passes are never denoised.
        threads: CPU render threads; 0 lets Blender use every core.
        scratch_dir: Where EXR and point-cache files go; a private folder is
            made inside it. Default: /dev/shm if present, else the temp dir.
        filter_width: Cycles pixel filter width in pixels (see module doc).
        quiet: Hide Blender's per-frame log lines on stdout.
        scene: ``"outdoor"`` (ground plane under the HDRI) or ``"room"``.
        adaptive_sampling: Let Cycles stop sampling converged pixels
            (``samples`` stays the maximum).
        adaptive_threshold: Cycles' noise threshold for adaptive sampling.
        max_bounces: Cycles' total light-path bounces (diffuse, glossy,
            transmission and volume bounces are capped by it too).
        denoise_prefilter: How OIDN cleans its albedo and normal guides:
            ``"ACCURATE"``, ``"FAST"`` or ``"NONE"``.
    """

    width: int = 320
    height: int = 240
    engine: str = "CYCLES"
    device: str = "CPU"
    samples: int = 4
    denoise: bool = False
    threads: int = 0
    scratch_dir: Path | None = None
    filter_width: float = 1.5
    quiet: bool = True
    scene: str = "outdoor"
    adaptive_sampling: bool = False
    adaptive_threshold: float = 0.01
    max_bounces: int = 12
    denoise_prefilter: str = "ACCURATE"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r}: expected one of {ENGINES}")
        if self.denoise_prefilter not in ("ACCURATE", "FAST", "NONE"):
            raise ValueError(f"denoise_prefilter {self.denoise_prefilter!r}: expected ACCURATE, FAST or NONE")
        if self.max_bounces < 0 or not self.adaptive_threshold > 0:
            raise ValueError(f"invalid settings: {self}")
        if self.device not in DEVICES:
            raise ValueError(f"device {self.device!r}: expected one of {DEVICES}")
        if self.scene not in SCENES:
            raise ValueError(f"scene {self.scene!r}: expected one of {SCENES}")
        if self.width < 1 or self.height < 1 or self.samples < 1 or self.threads < 0:
            raise ValueError(f"invalid settings: {self}")


def settings_from_config(render: Mapping[str, Any]) -> RenderSettings:
    """``RenderSettings`` from the config's ``render`` section (unknown keys ignored).

    ``quality`` (draft, standard, high; default standard) fills in the
    sampling keys the section does not set itself.
    """
    quality = render.get("quality", "standard")
    if quality not in QUALITY:
        raise ValueError(f"render.quality {quality!r}: expected one of {sorted(QUALITY)}")
    values = {**QUALITY[quality], **render}
    names = {f.name for f in fields(RenderSettings)}
    return RenderSettings(**{k: v for k, v in values.items() if k in names})


@dataclass
class RenderedClip:
    """Per-frame images of one clip from one camera.

    Attributes:
        rgb: (T, H, W, 3) uint8 sRGB display image; None from an engine
            that makes no colour (``GEOMETRY``).
        depth: (T, H, W) float32 metres along the camera axis; 0 where no
            surface was hit (sky).
        mask: (T, H, W) bool, any person.
        parts: (T, H, W) uint8 part id (``skeleton.PART_NAMES``) of the front-most
            body, 0 off every person.
        normals: (T, H, W, 3) float32 unit normals in the OpenCV camera frame;
            0 where no surface was hit.
        instances: (T, H, W) uint8, 0 off every person, k + 1 on body k (the
            order of the bodies given to ``render_clip``).
    """

    rgb: np.ndarray | None
    depth: np.ndarray
    mask: np.ndarray
    parts: np.ndarray
    normals: np.ndarray
    instances: np.ndarray

    @classmethod
    def empty(cls, frames: int, height: int, width: int) -> RenderedClip:
        """Zeroed arrays for ``frames`` frames."""
        shape = (frames, height, width)
        return cls(
            rgb=np.zeros((*shape, 3), np.uint8),
            depth=np.zeros(shape, np.float32),
            mask=np.zeros(shape, bool),
            parts=np.zeros(shape, np.uint8),
            normals=np.zeros((*shape, 3), np.float32),
            instances=np.zeros(shape, np.uint8),
        )


class Renderer(Protocol):
    """A scene built once per task that renders clips: Cycles or the geometry engine."""

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
        """Every frame of one clip from ``view``; None where ``frame_sink`` took each frame's EXR instead.

        ``vertices``: (T, V, 3) for one body, or (T, P, V, 3) for P bodies drawn together
        (body k wears ``appearance.look(k)`` and has instance id k + 1).
        """
        ...

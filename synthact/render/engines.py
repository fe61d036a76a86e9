"""The engine a run asks for (``render.engine``), built behind the ``Renderer`` interface.

Importing this module loads neither bpy nor torch: each engine imports its own
library when it is built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthact.render.blender import BlenderScene
from synthact.render.geometry import GeometryScene
from synthact.render.renderer import Renderer, RenderSettings


def render_scene(
    settings: RenderSettings,
    faces: np.ndarray,
    vertex_part: np.ndarray,
    face_uv: np.ndarray | None = None,
    textures_dir: str | Path | None = None,
    hdri_folder: str | Path | None = None,
    backgrounds_dir: str | Path | None = None,
) -> Renderer:
    """The renderer ``settings.engine`` asks for: ``GeometryScene`` or ``BlenderScene``.

    ``face_uv`` and ``textures_dir`` (``textures.texture_assets``) and
    ``hdri_folder`` and ``backgrounds_dir`` (``randomize.*``) matter to Cycles
    only: the geometry mode draws no clothing and no world.
    """
    if settings.engine == "GEOMETRY":
        return GeometryScene(settings, faces, vertex_part)
    return BlenderScene(
        settings,
        faces,
        vertex_part,
        face_uv=face_uv,
        textures_dir=textures_dir,
        hdri_folder=hdri_folder,
        backgrounds_dir=backgrounds_dir,
    )

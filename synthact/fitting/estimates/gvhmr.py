"""GVHMR (zju3dv/GVHMR): ``<output_root>/<video>/hmr4d_results.pt``, ``torch.save`` of a dict.

``smpl_params_global`` holds ``body_pose`` (L, 63), ``global_orient`` (L, 3),
``transl`` (L, 3) and ``betas`` (L, 10) of an **SMPL-X** body in the gravity-view
world, Y-up. The demo re-encodes every input video to 30 fps first, so row i is
frame i of that 30 fps video. One person per file (the demo tracks the main one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthact.fitting.estimates.loading import load_torch
from synthact.fitting.estimates.records import Track, as_array, mean_betas, need, same_length
from synthact.fitting.rotations import axis_angle_to_matrix_np

NAME = "gvhmr"
FILE_NAME = "hmr4d_results.pt"
FPS = 30.0  # tools/demo re-encodes the input to 30 fps


def video_name(path: Path) -> str:
    return path.parent.name


def read(path: Path) -> list[Track]:
    params = need(load_torch(path), "smpl_params_global", path)
    where = "smpl_params_global"
    body = as_array(need(params, "body_pose", path, where), path, f"{where}/body_pose", (None, 63))
    orient = as_array(need(params, "global_orient", path, where), path, f"{where}/global_orient", (None, 3))
    trans = as_array(need(params, "transl", path, where), path, f"{where}/transl", (None, 3))
    betas = mean_betas(need(params, "betas", path, where), path, f"{where}/betas", 10)
    length = same_length(path, {f"{where}/body_pose": body, f"{where}/global_orient": orient, f"{where}/transl": trans})
    return [
        Track(
            NAME,
            path,
            video_name(path),
            "0",
            np.arange(length),
            axis_angle_to_matrix_np(orient),
            body.reshape(-1, 21, 3),
            trans,
            betas,
            body="smplx",
            frame="y_up",
            fps=FPS,
        )
    ]

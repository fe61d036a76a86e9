"""Checks that can run at config time, so a mistake costs a dry run, not a GPU allocation.

``check_content`` runs inside ``validate_config`` (dry run, every CLI stage):
HDRI names against the HDRIs bundled in the bpy wheel (found on disk, bpy is
not imported) and the resolution against the preset's camera (the run's own
inputs are checked by ``synthact.run_inputs`` when the workflow starts).
``probe_device`` asks Cycles for the configured device; it
imports bpy, so it runs in a child process, and only where the GPU is: before a
shard's local render tasks start (``dispatch.submit``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from synthact.errors import ConfigError
from synthact.presets.catalog import preset_values

ASPECT_TOLERANCE = 0.02  # relative; 640x360 vs 1920x1080 is the same aspect


class PreflightError(ConfigError):
    """A config value that passes the schema but cannot work; the message names the key."""


def bundled_hdri_dir() -> Path | None:
    """``datafiles/studiolights/world`` inside the installed bpy wheel, or None without bpy."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.glob("*/datafiles/studiolights/world"))
    return found[-1] if found else None


def bundled_hdris() -> list[str] | None:
    """File stems of the bundled HDRIs, or None where bpy is not installed (nothing to check against)."""
    folder = bundled_hdri_dir()
    return None if folder is None else sorted(p.stem for p in folder.glob("*.exr"))


def check_hdris(config: dict, source: str) -> None:
    wanted = list(config.get("randomize", {}).get("hdris", []))
    available = bundled_hdris() if wanted else None
    if available is None:
        return
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise PreflightError(f"{source}: randomize.hdris: {unknown} are not bundled HDRIs; available: {available}")


_warned: set[str] = set()


def check_resolution(config: dict, source: str) -> None:  # noqa: ARG001  same (config, source) as every check
    """The preset's camera (``rig.hfov_deg``) models its dataset's aspect ratio: warn, once, when it differs.

    A warning, not an error: small test renders and deliberate crops are
    legitimate; but a user reproducing a dataset learns it before rendering.
    """
    name = config.get("preset", "none")
    preset_render = preset_values(name).get("render", {}) if name != "none" else {}
    if "width" not in preset_render or "height" not in preset_render:
        return
    width, height = config["render"]["width"], config["render"]["height"]
    want = preset_render["width"] / preset_render["height"]
    if abs(width / height - want) > ASPECT_TOLERANCE * want:
        message = (
            f"synthact: warning: render.width x render.height {width}x{height} (aspect {width / height:.3f})"
            f" does not match preset {name}'s {preset_render['width']}x{preset_render['height']}"
            f" (aspect {want:.3f}), whose camera field of view is that dataset's;"
            f" keep the aspect (e.g. {round(height * want)}x{height}) or use preset: none"
        )
        if message not in _warned:
            _warned.add(message)
            print(message, file=sys.stderr)


def check_content(config: dict, source: str) -> None:
    check_hdris(config, source)
    check_resolution(config, source)


# Cycles prints its own warnings on stdout (a missing CUDA driver, for one), so the
# answer is the one line that carries the marker, as JSON: never a warning read as a name.
PROBE_MARK = "synthact-devices:"
_PROBE = f"""
import json, sys, bpy
prefs = bpy.context.preferences.addons["cycles"].preferences
try:
    prefs.compute_device_type = sys.argv[1]
except TypeError:
    print({PROBE_MARK!r} + json.dumps(None)); sys.exit(0)
prefs.refresh_devices()
print({PROBE_MARK!r} + json.dumps([d.name for d in prefs.devices if d.type == sys.argv[1]]))
"""


def probe_device(device: str, timeout_s: float = 120.0) -> list[str]:
    """Names of the Cycles devices of type ``device`` on this machine (``CPU`` needs none).

    Runs in a child process: importing bpy costs seconds and memory that a
    dispatcher should not keep.

    Raises:
        PreflightError: The Blender build does not support ``device``, or finds none.
    """
    if device == "CPU":
        return ["CPU"]
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, device],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PreflightError(f"render.device {device}: cannot ask Blender for devices ({last})")
    answers = [line[len(PROBE_MARK) :] for line in result.stdout.splitlines() if line.startswith(PROBE_MARK)]
    if not answers:
        raise PreflightError(
            f"render.device {device}: Blender gave no answer about its devices; set render.device: CPU"
        )
    names = json.loads(answers[-1])
    if names is None:
        raise PreflightError(
            f"render.device {device}: this Blender build does not support {device}; set render.device: CPU"
        )
    if not names:
        raise PreflightError(
            f"render.device {device}: Cycles finds no {device} device here (driver or GPU missing?); "
            "set render.device: CPU or run where the GPU is"
        )
    return names

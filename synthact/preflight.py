"""Checks that can run at config time, so a mistake costs a dry run, not a GPU allocation.

``check_content`` runs inside ``validate_config`` (dry run, every CLI stage):
HDRI names against the HDRIs bundled in the bpy wheel (found on disk, bpy is
not imported) and the resolution against the preset's camera. ``check_run_inputs``
runs once when the workflow starts (dry run included), where the user's
folders and the Slurm client are those the run will use: the input folders the
motion source reads, the body model files, and with ``dispatch.cluster: slurm``
the Slurm commands. ``probe_device`` asks Cycles for the configured device; it
imports bpy, so it runs only when asked (``synthact check --device``) and
before local render tasks start.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from synthact.config import ConfigError, preset_values

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


SLURM_COMMANDS = ("sbatch", "srun", "squeue", "sacct", "scontrol")  # submitit looks for srun on the submit host
# The body model genders each motion source poses: AMASS sequences carry their
# actor's gender; fitted and estimated motions use the neutral model.
GENDERS_BY_SOURCE = {"amass": ("female", "male")}
FITTED_GENDERS = ("neutral",)


def check_run_inputs(config: dict, source: str) -> None:
    """Every input the run will read, and the Slurm client it will call, checked now: one message for all.

    Folders the demo generates (under ``demo.data_dir`` with ``demo.enabled``)
    do not exist before the workflow's first job, so they are left out.

    Raises:
        PreflightError: listing each missing input with its key and the fix.
    """
    problems = input_problems(config) + slurm_problems(config)
    if problems:
        raise PreflightError("\n".join([f"{source}: this run cannot start:", *(f"  {p}" for p in problems)]))


def input_problems(config: dict) -> list[str]:
    motion = config["motion"]
    kind = motion["source"]
    problems: list[str] = []
    if kind == "amass":
        problems += _missing_folder(config, "motion.amass_root", "your AMASS download's root folder")
        babel = _missing_folder(config, "motion.babel_dir", "the folder of BABEL's train.json and val.json")
        problems += babel or _missing_babel_files(config)
    elif kind in ("ntu", "smarthome"):
        problems += _missing_folder(config, "motion.skeleton_dir", f"the folder of the {kind} skeleton files")
    elif kind == "estimates":
        problems += _missing_folder(config, "motion.estimates_dir", "the folder of the pose estimators' outputs")
        problems += _missing_labels_file(config)
    problems += _missing_body_models(config, GENDERS_BY_SOURCE.get(kind, FITTED_GENDERS))
    return problems


def slurm_problems(config: dict) -> list[str]:
    if config["dispatch"]["cluster"] != "slurm":
        return []
    missing = [name for name in SLURM_COMMANDS if shutil.which(name) is None]
    if not missing:
        return []
    return [
        f"dispatch.cluster: slurm, but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on PATH:"
        " run on a Slurm submit host, or set dispatch.cluster: local"
    ]


def _generated_by_demo(config: dict, path: Path) -> bool:
    demo = config["demo"]
    if not demo["enabled"]:
        return False
    root = Path(demo["data_dir"]).resolve()
    return path.resolve() == root or root in path.resolve().parents


def _missing_folder(config: dict, key: str, what: str) -> list[str]:
    section, name = key.split(".")
    value = config[section][name]
    if not value:
        return [f"{key} is not set: give {what}"]
    path = Path(value)
    if path.is_dir() or _generated_by_demo(config, path):
        return []
    state = "is a file, not a folder" if path.exists() else "does not exist"
    return [f"{key}: {path} {state}: give {what}"]


def _missing_babel_files(config: dict) -> list[str]:
    folder = Path(config["motion"]["babel_dir"])
    if _generated_by_demo(config, folder):
        return []
    missing = [name for name in config["motion"]["babel_files"] if not (folder / name).is_file()]
    if not missing:
        return []
    have = sorted(p.name for p in folder.glob("*.json"))
    return [f"motion.babel_files: {missing} not in {folder} (it has {have}): list the BABEL files you have"]


def _missing_labels_file(config: dict) -> list[str]:
    labels = config["motion"]["estimates_labels"]
    if labels in ("", "ntu", "smarthome") or Path(labels).is_file():
        return []
    return [f"motion.estimates_labels: {labels} does not exist: give the CSV of labels, or ntu / smarthome"]


def _missing_body_models(config: dict, genders: tuple[str, ...]) -> list[str]:
    from synthact.body.model_files import BodyModelError, find_smplh_file

    folder = Path(config["motion"]["body_model_dir"])
    if _generated_by_demo(config, folder):
        return []
    if not folder.exists():
        wanted = ", ".join(genders)
        return [f"motion.body_model_dir: {folder} does not exist: give the folder of the SMPL-H models ({wanted})"]
    problems = []
    for gender in genders:
        try:
            find_smplh_file(folder, gender)
        except BodyModelError as exc:
            problems.append(f"motion.body_model_dir: {exc}")
    return problems


_PROBE = """
import sys, bpy
prefs = bpy.context.preferences.addons["cycles"].preferences
try:
    prefs.compute_device_type = sys.argv[1]
except TypeError:
    print("unsupported"); sys.exit(0)
prefs.refresh_devices()
print(",".join(d.name for d in prefs.devices if d.type == sys.argv[1]))
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
    answer = (result.stdout.strip().splitlines() or [""])[-1]
    if answer == "unsupported":
        raise PreflightError(f"render.device {device}: this Blender build does not support {device}; use CPU")
    names = [n for n in answer.split(",") if n]
    if not names:
        raise PreflightError(
            f"render.device {device}: Cycles finds no {device} device here (driver or GPU missing?); "
            "set render.device: CPU or run where the GPU is"
        )
    return names

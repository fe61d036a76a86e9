"""The inputs a run will read, and the Slurm client it will call, checked before any work.

``check_run_inputs`` runs once when the workflow starts, dry run included
(``rules/common.smk``), on the machine whose folders and Slurm client the run
will use: the input folders the motion source reads, the body model files,
and with ``dispatch.cluster: slurm`` the Slurm commands. Every problem is
reported at once, each with its config key and the fix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from synthact.body.model_files import BodyModelError, find_smplh_file
from synthact.preflight import PreflightError

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
    if config.get("randomize", {}).get("hdri_dir"):
        problems += _missing_folder(config, "randomize.hdri_dir", "a folder of .exr/.hdr environment maps")
    if config.get("randomize", {}).get("backgrounds_dir"):
        problems += _missing_folder(config, "randomize.backgrounds_dir", "a folder of background pictures")
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

# Shared helpers: run paths, each stage's params, and checkpoint-driven targets.
import json

from synthact.config import RunPaths, validate_config
from synthact.stages import stage_params

validate_config(config, source="workflow config")  # the CLI's own cross-field checks
if workflow.is_main_process:  # inputs and the Slurm client, where the run starts (dry runs too), once
    from synthact.run_inputs import check_run_inputs

    check_run_inputs(config, source="workflow config")
# Skeleton sources (ntu, smarthome): the index and renderer read the fit stage's outputs.
from synthact.fitting.convert import effective_motion

config["motion"] = effective_motion(config)
PATHS = RunPaths.from_config(config)
WORK = str(PATHS.work_dir)
OUT = str(PATHS.output_dir)

# The whole config goes to the CLI; each rule's params hold only what its output
# depends on (synthact/stages.py), so a change reruns exactly the stages it affects,
# and dispatch settings rerun nothing. It goes as a file named by its content, written
# when jobs start (onstart, below): Snakemake prints a failed job's command twice, and
# a path reads better there than the whole config.
import hashlib

CONTENT_JSON = json.dumps({k: v for k, v in config.items() if k != "dispatch"}, sort_keys=True)
CONTENT_CONFIG = f"{WORK}/config/{hashlib.sha256(CONTENT_JSON.encode()).hexdigest()[:16]}.json"
DISPATCH_CONFIG = json.dumps(config["dispatch"], sort_keys=True)
PROTOCOLS = config["labels"]["protocols"]


def params_of(stage):
    return stage_params(config, stage)


wildcard_constraints:
    shard=r"[a-z]+-\d{5}-of-\d{5}",


def planned_shards(wildcards=None):
    """Shard names, known once the plan checkpoint has run."""
    plan_file = checkpoints.plan.get().output.plan
    with open(plan_file) as f:
        return [s["name"] for s in json.load(f)["shards"]]


def label_tables():
    return [str(PATHS.clip_table(p)) for p in PROTOCOLS] + [str(PATHS.class_table(p)) for p in PROTOCOLS]


def all_outputs(wildcards):
    # Ask for every shard, not only the manifest: a deleted shard is then
    # rebuilt alone (Snakemake would not look past an up-to-date manifest).
    shards = [str(PATHS.shard_file(s)) for s in planned_shards()]
    return shards + label_tables() + [str(PATHS.manifest), str(PATHS.checksums)]


# --- Integrity and locking (synthact/shards/integrity.py, synthact/locking.py) ---
# A finished shard that is no longer the file merge wrote (size/mtime differ from
# the manifest, or `synthact status --verify` marked it) is moved to WORK/damaged/,
# so a plain rerun rebuilds that shard alone (from the render cache), then the
# manifest. A dry run moves it too, and lists the rebuild. Only the main process
# checks: jobs re-parse this file on Slurm.
if workflow.is_main_process:
    import sys

    from synthact.shards.integrity import invalidate, shards_to_rebuild

    for _shard, _reason in shards_to_rebuild(PATHS).items():
        _aside = invalidate(PATHS, _shard)
        _where = f"moved to {_aside}" if _aside else "removed"
        print(f"synthact: shard {_shard} is damaged ({_reason}); {_where}, rebuilding it", file=sys.stderr)


# The output folder's own lock (two clones, one absolute output_dir): taken when
# jobs are about to run, so dry runs never wait on it; dropped when Snakemake exits.
onstart:
    from synthact.atomic import write_text as write_atomic
    from synthact.locking import acquire_output_lock

    acquire_output_lock(OUT)
    write_atomic(CONTENT_CONFIG, CONTENT_JSON)


# The functions of the other rule files (snakemake --lint wants them in one place): each is called
# only when its rule file's globals (DEMO_STAMP, FIT_OUTPUTS, rules.consume_report) exist.
def render_threads():
    if config["dispatch"]["cluster"] == "slurm":
        return 1  # it only waits; the GPU tasks have their own allocation
    return len(config["rig"]["views"]) * max(1, config["render"]["threads"])


def demo_inputs(wildcards):
    return [DEMO_STAMP] if config["demo"]["enabled"] else []


def fit_inputs(wildcards):
    """The index's inputs from the fit stage (none for AMASS)."""
    return FIT_OUTPUTS["labels"] if FIT_OUTPUTS is not None else []


def report_outputs(wildcards):
    """What `rule all` adds when report.enabled is set."""
    return list(rules.consume_report.input) if config["report"]["enabled"] else []

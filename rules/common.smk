# Shared helpers: run paths, each stage's params, and checkpoint-driven targets.
import json
import os

from synthact.config import RunPaths
from synthact.resolved_config import resolved_path, write_resolved
from synthact.stages import fit_params, stage_params

if workflow.is_main_process:  # inputs and the Slurm client, where the run starts (dry runs too), once
    from synthact.run_inputs import check_run_inputs

    check_run_inputs(config, source="workflow config")
# Skeleton sources (ntu, smarthome): the index and renderer read the fit stage's outputs.
from synthact.fitting.convert import effective_motion

config["motion"] = effective_motion(config)
PATHS = RunPaths.from_config(config)
WORK = str(PATHS.work_dir)
OUT = str(PATHS.output_dir)

# The config resolved by the Snakefile goes to the CLI as a file named by its content
# (synthact/resolved_config.py), written when jobs start (onstart, below); the stage
# commands read it without validating it again. Each rule's params hold only what its
# output depends on (synthact/stages.py), so a change reruns exactly the stages it
# affects. Dispatch settings are not in the file: they go to the one rule that reads
# them on their own, so moving a run to Slurm changes no rule's command. (Snakemake
# reruns a rule whose shell command text changes, so the rules' commands keep their
# wording: the option is still named --config-json.)
CONTENT_CONFIG = str(resolved_path(PATHS.work_dir, config))
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
    return planned_shard_files(wildcards) + label_tables() + [str(PATHS.manifest), str(PATHS.checksums)]


# --- Integrity, ownership and locking (synthact/shards/integrity.py, synthact/ownership.py, synthact/locking.py) ---
# Parsing this file never moves, deletes or writes a file of the run: dry runs,
# --summary, --dag and `synthact status` parse it too. Only the main process
# checks: jobs re-parse this file on Slurm.
from synthact.config import config_hash
from synthact.locking import acquire_output_lock
from synthact.ownership import REUSE_KEY, Launch, as_recorded, check_owner, claim, names_output_dir, profile_given
from synthact.shards.rebuild import ShardGuard

CONFIG_FILES = as_recorded([str(f) for f in workflow.configfiles])
if workflow.is_main_process:
    check_owner(
        PATHS,
        CONFIG_FILES,
        config_hash(config),
        allow_reuse=config[REUSE_KEY],
        chose_output_dir=names_output_dir(CONFIG_FILES, workflow.config_settings.overwrite_config),
    )


def real_run():
    """Snakemake runs jobs: an executor is set, and it is neither -n nor --touch (--summary, --dag: none)."""
    return workflow.executor_plugin is not None and not workflow.dryrun and not workflow.touch


def forced_rebuild(shard_file):
    settings = workflow.dag_settings
    if settings is None:
        return False
    forced = {os.path.abspath(f) for f in settings.forcerun}
    return settings.forceall or "merge" in settings.forcerun or os.path.abspath(shard_file) in forced


SHARD_GUARD = ShardGuard(PATHS, real_run, forced_rebuild, lock=lambda: acquire_output_lock(OUT))


def damaged_shard_moved_aside(wildcards):
    """merge's input function, adding no input: a real run moves a damaged shard aside so that it is
    rebuilt as missing; a dry run says so (synthact/shards/rebuild.py)."""
    if workflow.is_main_process:
        SHARD_GUARD.visit(wildcards.shard)
    return []


def planned_shard_files(wildcards):
    """The plan's shard files; a real run moves shards of an older layout out of shards/ (WORK/stale/)."""
    names = planned_shards()
    if workflow.is_main_process:
        SHARD_GUARD.set_aside_unplanned(names)
    return [str(PATHS.shard_file(s)) for s in names]


# The output folder's lock (two clones, one absolute output_dir) is taken when
# jobs are about to run, or earlier by a real run that moves a damaged shard;
# dry runs never wait on it. Snakemake drops it when it exits. Under the lock,
# the run records itself as the folder's run, and how it was started.
onstart:
    import sys

    acquire_output_lock(OUT)
    launch = Launch(
        snakefile=os.path.abspath(workflow.main_snakefile),
        executor=workflow.executor_plugin.name,
        profile=profile_given(sys.argv, dict(os.environ)),
        jobs=workflow.resource_settings.nodes or 0,
    )
    claim(PATHS, CONFIG_FILES, config_hash(config), launch)
    write_resolved(PATHS.work_dir, config)


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

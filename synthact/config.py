"""Run configuration: presets, schema validation with defaults, the config hash, and paths.

A config is resolved once: ``validate_config`` coerces ``--config`` strings,
merges the preset, validates against the schema filling its defaults, and
runs the cross-field and preflight checks. The Snakefile does it when it
parses, writes the result for its jobs (``synthact.resolved_config``), and
the stage commands build typed sections from that file without validating
again (``synthact.config_sections``). ``synthact <stage> --config FILE`` by
hand resolves the file the same way.

Layers, lowest first: schema defaults < preset (``synthact/presets/NAME.yaml``, ``presets.catalog``)
< the user's config. Resolving a resolved config again changes nothing.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from synthact.errors import ConfigError
from synthact.preflight import check_content
from synthact.presets.catalog import PRESETS, preset_values

SCHEMA_PATH = Path(str(resources.files("synthact") / "schemas" / "config.schema.yaml"))

# Sections that do not change what is rendered: excluded from the config hash
# so that moving a run to Slurm or to another folder keeps its identity.
NON_CONTENT_KEYS = ("output_dir", "work_dir", "dispatch", "allow_output_reuse")
# [min, max] pairs, checked for min <= max.
RANGE_KEYS = (
    "rig.distance_m",
    "rig.height_m",
    "randomize.hdri_rotation_deg",
    "randomize.hdri_strength",
    "randomize.sun_strength",
    "randomize.sun_elevation_deg",
    "randomize.room_light_w",
    "randomize.room_sky_strength",
)


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _with_defaults(validator_class: type[jsonschema.protocols.Validator]) -> type[jsonschema.protocols.Validator]:
    """Extend a validator so that it fills in schema defaults, depth first."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(
        validator: jsonschema.protocols.Validator, properties: dict[str, Any], instance: Any, schema: dict[str, Any]
    ) -> Iterator[jsonschema.ValidationError]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    # jsonschema leaves extend() unannotated.
    extend: Any = jsonschema.validators.extend
    extended: type[jsonschema.protocols.Validator] = extend(validator_class, {"properties": set_defaults})
    return extended


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``over``, recursively for mappings; lists and scalars replace."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_preset(config: dict[str, Any]) -> dict[str, Any]:
    name = config.get("preset", "none")
    if not isinstance(name, str) or name not in PRESETS:
        return config  # validation names the bad value
    merged = deep_merge(deep_merge(source_defaults(config), preset_values(name)), config)
    config.clear()
    config.update(merged)
    return config


# Motion sources labelled with their dataset's own classes, not BABEL categories.
DATASET_LABELLED_SOURCES = ("ntu", "smarthome", "estimates")


def source_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Defaults that follow from the motion source: a skeleton dataset's samples are one
    class each, so its label protocol is ``segments`` (BABEL's chunk protocols need BABEL
    categories). They sit under the preset and your values."""
    motion = config.get("motion")
    source = motion.get("source") if isinstance(motion, dict) else None
    return {"labels": {"protocols": ["segments"]}} if source in DATASET_LABELLED_SOURCES else {}


def _scalar_type_of(schema: dict) -> str | None:
    kinds = schema.get("type")
    if isinstance(kinds, str) and kinds in ("integer", "number", "boolean", "string"):
        return kinds
    return None


def _coerce_parsed(value: Any, wanted: str) -> Any:
    """Snakemake's own parse of a top-level ``--config key=VALUE`` (int, then float, then bool, then
    text) where the schema wants another type: ``seed=1e3`` arrives as 1000.0, ``output_dir=2024``
    as 2024. Only lossless conversions; anything else is left for validation to name."""
    if isinstance(value, bool):
        return value
    if wanted == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if wanted == "string" and isinstance(value, int):
        return str(value)
    return value


def coerce_types(value: Any, schema: dict, root: dict | None = None) -> Any:
    """Strings where the schema wants a number or boolean become one, recursively, in place.

    Snakemake's ``--config key=VALUE`` parses VALUE as YAML at the top level but
    hands nested mappings on with string leaves (``dispatch={"cpus_per_task": 1}``
    arrives as ``"1"``), and parses a top-level VALUE as a number first
    (``_coerce_parsed``). A value that does not convert to the wanted type
    without loss is left as it is, for validation to name with its key.
    """
    root = schema if root is None else root
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].split("/")[-1]]
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                value[key] = coerce_types(item, properties[key], root)
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        value[:] = [coerce_types(item, schema["items"], root) for item in value]
        return value
    wanted = _scalar_type_of(schema)
    if wanted is None:
        return value
    if not isinstance(value, str):
        return _coerce_parsed(value, wanted)
    if wanted == "string":
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if wanted == "boolean":
        return parsed if isinstance(parsed, bool) else value
    if isinstance(parsed, bool) or not isinstance(parsed, (int, float)):
        return value
    if wanted == "integer":
        return int(parsed) if float(parsed).is_integer() else value
    return parsed


def _error_line(error: jsonschema.ValidationError) -> str:
    """One short line per error; unknown keys name the known ones (closest first)."""
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}  # bool schemas have no properties
        known = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        where = "top-level key" if key == "(top level)" else f"key under {key}"
        return f"  unknown {where}: {', '.join(hints)}; known: {', '.join(known)}"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"  {key}: {message}"


def _raise_errors(config: dict[str, Any], schema: dict, source: str) -> None:
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join([f"{source}: invalid configuration:"] + [_error_line(e) for e in errors]))


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Apply the preset, then validate ``config`` in place, filling defaults.

    Raises:
        ConfigError: naming the key of every bad value.
    """
    schema = load_schema()
    coerce_types(config, schema)
    _merge_preset(config)
    _raise_errors(config, schema, source)
    _check_cross_field(config, source)
    return config


def _check_cross_field(config: dict, source: str) -> None:
    rig = config["rig"]
    names = [v["name"] for v in rig["views"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: rig.views: view names must be unique, got {names}")
    for key in (*RANGE_KEYS, "rig.hfov_range_deg"):
        section, name = key.split(".")
        low, high = config[section].get(name) or (0, 0)
        if low > high:
            raise ConfigError(f"{source}: {key}: range [{low}, {high}] has min > max")
    _check_views(rig, source)
    check_content(config, source)  # config-time checks that need more than the schema


def _check_views(rig: dict, source: str) -> None:
    """What each rig mode needs from its views, and names that must exist."""
    for i, view in enumerate(rig["views"]):
        where = f"{source}: rig.views.{i} ({view['name']})"
        if rig["mode"] == "actor" and "azimuth_deg" not in view:
            raise ConfigError(f"{where}: actor mode needs azimuth_deg (the camera's angle around the actor)")
        if rig["mode"] == "room" and "position_m" not in view:
            raise ConfigError(f"{where}: room mode needs position_m (the camera's XY in the room)")
    if rig["mode"] == "room" and rig["camera_motion"] == "follow":
        raise ConfigError(
            f"{source}: rig.camera_motion: follow moves cameras with the actor;"
            " room cameras are fixed (use static or auto)"
        )
    if rig["mode"] == "room" and (rig["setups"] or rig["facing"]):
        raise ConfigError(f"{source}: rig.setups / rig.facing place cameras around the actor: use them with mode actor")
    unknown = sorted(set(rig["facing"]) - {v["name"] for v in rig["views"]})
    if unknown:
        raise ConfigError(f"{source}: rig.facing: {unknown} are not names of rig.views")


def load_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: configuration must be a mapping, got {type(config).__name__}")
    return validate_config(config, source=str(path))


def resolve_dispatch(dispatch: Any, source: str) -> dict[str, Any]:
    """The ``dispatch`` section alone, validated with its defaults filled (the workflow passes it apart
    from the resolved file, ``synthact.resolved_config``); the rest of the config is not looked at.
    Nothing given: the schema's defaults, with nothing to validate."""
    schema = load_schema()
    if dispatch == {}:
        defaults = schema["properties"]["dispatch"]["properties"].items()
        return {key: copy.deepcopy(spec["default"]) for key, spec in defaults if "default" in spec}
    part = {"type": "object", "properties": {"dispatch": schema["properties"]["dispatch"]}, "$defs": schema["$defs"]}
    wrapped = {"dispatch": dispatch}
    coerce_types(wrapped, part)
    _raise_errors(wrapped, part, source)
    return wrapped["dispatch"]


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the content settings: all but folders, dispatch, thread counts and ``allow_output_reuse``.

    What a run folder's owner record holds (``synthact.ownership``), so that a copy of a
    config under another name is still the same run. The dataset's own identity, which
    the manifest and the shards record, is ``synthact.stages.run_key``.
    """
    content = {k: v for k, v in config.items() if k not in NON_CONTENT_KEYS}
    content["render"] = {k: v for k, v in config.get("render", {}).items() if k != "threads"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RunPaths:
    """Every path of a run, derived from the config."""

    output_dir: Path
    work_dir: Path

    @classmethod
    def from_config(cls, config: dict) -> RunPaths:
        output = Path(config["output_dir"])
        work = Path(config["work_dir"]) if config["work_dir"] else output / "work"
        return cls(output_dir=output, work_dir=work)

    @property
    def take_table(self) -> Path:
        return self.work_dir / "index" / "takes.jsonl"

    @property
    def index_report(self) -> Path:
        return self.work_dir / "index" / "report.json"

    @property
    def plan(self) -> Path:
        return self.work_dir / "plan" / "plan.json"

    def shard_plan(self, shard: str) -> Path:
        return self.work_dir / "plan" / "shards" / f"{shard}.json"

    def render_done(self, shard: str) -> Path:
        return self.work_dir / "render" / f"{shard}.json"

    def dispatch_logs(self, shard: str) -> Path:
        return self.work_dir / "logs" / "submitit" / shard

    def shard_file(self, shard: str) -> Path:
        return self.output_dir / "shards" / f"{shard}.h5"

    @property
    def labels_dir(self) -> Path:
        return self.output_dir / "labels"

    def clip_table(self, protocol: str) -> Path:
        return self.labels_dir / protocol / "clips.jsonl"

    def class_table(self, protocol: str) -> Path:
        return self.labels_dir / protocol / "classes.json"

    @property
    def labels_report(self) -> Path:
        return self.work_dir / "labels" / "report.json"

    @property
    def manifest(self) -> Path:
        return self.output_dir / "manifest.json"

    @property
    def checksums(self) -> Path:
        return self.output_dir / "SHA256SUMS"

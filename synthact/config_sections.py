"""The resolved configuration as typed, frozen sections: what each stage is handed.

``RunConfig.from_dict`` builds them once from a resolved config (schema
defaults filled, preset merged, checked: ``synthact.config.validate_config``).
A stage reads attributes of the sections it needs (``render.width``), never
keys of the whole document, so a typo is a type error and a stage cannot
change a setting another stage then sees. The whole document stays available
(``RunConfig.document``) only for what is meant to cover all of it: hashing
and writing the resolved file.

Sequences become tuples and mappings read-only views, so nothing in a section
can be changed in place either. A key the schema has but a section does not
name yet is kept in ``extra`` and handed on by ``as_dict``, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Self

from synthact.config import RunPaths, resolve_dispatch


def frozen(value: Any) -> Any:
    """A read-only deep copy: lists become tuples, mappings read-only views."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: frozen(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(item) for item in value)
    return value


def thawed(value: Any) -> Any:
    """The plain JSON-like value of ``frozen``'s result (lists and dicts again)."""
    if isinstance(value, Mapping):
        return {key: thawed(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thawed(item) for item in value]
    return value


@dataclass(frozen=True)
class Section:
    """One top-level mapping of the config; subclasses name its keys as fields."""

    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), kw_only=True, repr=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Self:
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {key: frozen(value) for key, value in data.items() if key in names}
        extra = {key: value for key, value in data.items() if key not in names}
        return cls(**known, extra=frozen(extra))

    def as_dict(self) -> dict[str, Any]:
        """The section as the plain mapping the config holds (for code that takes a mapping).

        An optional key left unset stays absent, as in the config: code below reads absence
        as "not set" (``render.quality`` fills ``render.samples``, say).
        """
        plain = {
            f.name: thawed(getattr(self, f.name))
            for f in fields(self)
            if f.name != "extra" and not (f.default is None and getattr(self, f.name) is None)
        }
        return plain | thawed(self.extra)


@dataclass(frozen=True)
class DemoSection(Section):
    enabled: bool
    data_dir: str
    sequences: int
    seed: int


@dataclass(frozen=True)
class MotionSection(Section):
    amass_root: str
    babel_dir: str
    babel_files: tuple[str, ...]
    body_model_dir: str
    source: str
    estimates_dir: str
    estimator: str
    estimates_labels: str
    estimates: Mapping[str, Any]
    skeleton_dir: str
    protocol: str
    ntu_classes: int
    fit: Mapping[str, Any]


@dataclass(frozen=True)
class ClipsSection(Section):
    fps: float
    on_bad_input: str

    @property
    def strict(self) -> bool:
        return self.on_bad_input == "strict"


@dataclass(frozen=True)
class LabelsSection(Section):
    protocols: tuple[str, ...]
    chunk_seconds: float
    min_frames: int


@dataclass(frozen=True)
class PlanSection(Section):
    frames_per_shard: int


@dataclass(frozen=True)
class RigSection(Section):
    mode: str
    camera_motion: str
    follow_smoothing_s: float
    views: tuple[Mapping[str, Any], ...]
    distance_m: tuple[float, float]
    height_m: tuple[float, float]
    azimuth_jitter_deg: float
    tilt_jitter_deg: float
    position_jitter_m: float
    hfov_deg: float
    min_person_share: float
    look_at_height_m: float
    setups: tuple[Mapping[str, Any], ...]
    facing: tuple[str, ...]
    facing_jitter_deg: float
    hfov_range_deg: tuple[float, float] | None = None  # optional: unset means every view uses hfov_deg

    @property
    def view_names(self) -> tuple[str, ...]:
        return tuple(str(view["name"]) for view in self.views)


@dataclass(frozen=True)
class RenderSection(Section):
    engine: str
    quality: str
    span: str
    span_merge_gap_s: float
    repetitions: int
    window_frames: int
    device: str
    width: int
    height: int
    filter_width: float
    threads: int
    jpeg_quality: int
    rgb_codec: str
    rgb_crf: int
    keyframe_interval: int
    normal_bits: int
    compressor: str
    scene: str
    # Unset: render.quality fills them (synthact.render.renderer).
    samples: int | None = None
    denoise: bool | None = None
    adaptive_sampling: bool | None = None
    max_bounces: int | None = None
    denoise_prefilter: str | None = None


@dataclass(frozen=True)
class RandomizeSection(Section):
    body_shape_std: float
    body_mass_range: tuple[float, float]
    textures_dir: str
    uv_file: str
    hdris: tuple[str, ...]
    hdri_dir: str
    backgrounds_dir: str
    supports: bool
    ground: str
    hdri_rotation_deg: tuple[float, float]
    hdri_strength: tuple[float, float]
    sun_probability: float
    sun_strength: tuple[float, float]
    sun_elevation_deg: tuple[float, float]
    clothing_patterns: tuple[str, ...]
    long_sleeves_probability: float
    long_legs_probability: float
    room_light_w: tuple[float, float]
    room_sky_strength: tuple[float, float]


@dataclass(frozen=True)
class ReportSection(Section):
    enabled: bool
    max_clips: int


@dataclass(frozen=True)
class DispatchSection(Section):
    cluster: str
    timeout_min: int
    partition: str
    gpus_per_task: int
    cpus_per_task: int
    mem_gb: float
    array_parallelism: int
    max_requeues: int
    signal_delay_s: int
    slurm_extra: Mapping[str, Any]


SECTIONS: dict[str, type[Section]] = {
    "demo": DemoSection,
    "motion": MotionSection,
    "clips": ClipsSection,
    "labels": LabelsSection,
    "plan": PlanSection,
    "rig": RigSection,
    "render": RenderSection,
    "randomize": RandomizeSection,
    "report": ReportSection,
    "dispatch": DispatchSection,
}


@dataclass(frozen=True)
class RunConfig:
    """A resolved run configuration: its top-level values, its sections, and its folders."""

    seed: int
    preset: str
    allow_output_reuse: bool
    paths: RunPaths
    demo: DemoSection
    motion: MotionSection
    clips: ClipsSection
    labels: LabelsSection
    plan: PlanSection
    rig: RigSection
    render: RenderSection
    randomize: RandomizeSection
    report: ReportSection
    dispatch: DispatchSection
    document: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> RunConfig:
        """Sections of an already resolved config (nothing is validated here)."""
        return cls(
            seed=int(config["seed"]),
            preset=str(config["preset"]),
            allow_output_reuse=bool(config["allow_output_reuse"]),
            paths=RunPaths.from_config(dict(config)),
            demo=DemoSection.from_mapping(config["demo"]),
            motion=MotionSection.from_mapping(config["motion"]),
            clips=ClipsSection.from_mapping(config["clips"]),
            labels=LabelsSection.from_mapping(config["labels"]),
            plan=PlanSection.from_mapping(config["plan"]),
            rig=RigSection.from_mapping(config["rig"]),
            render=RenderSection.from_mapping(config["render"]),
            randomize=RandomizeSection.from_mapping(config["randomize"]),
            report=ReportSection.from_mapping(config["report"]),
            dispatch=DispatchSection.from_mapping(config["dispatch"]),
            document=frozen(config),
        )

    @classmethod
    def from_resolved(cls, config: Mapping[str, Any], dispatch: Any, source: str) -> RunConfig:
        """Sections of a resolved file's config (``synthact.resolved_config``), which leaves dispatch out:
        ``dispatch`` (the workflow's, or ``{}`` for the schema's defaults) is checked on its own."""
        return cls.from_dict(dict(config, dispatch=resolve_dispatch(dispatch, source)))

    def as_dict(self) -> dict[str, Any]:
        """The whole resolved document as a plain dict (for hashing and writing)."""
        result: dict[str, Any] = thawed(self.document)
        return result

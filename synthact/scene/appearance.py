"""Domain-randomised appearance of one rendered clip (pure numpy, no bpy).

An ``Appearance`` holds every random choice the renderer needs besides the
motion and the camera: which CC0 HDRI lights the scene and how it is turned,
an optional sun, skin tone, procedural clothing and ground materials, and for
the room scene the room's materials and lights. ``sample_appearance`` draws
one from a seed and the configured ranges (``AppearanceRanges``, the config's
``randomize`` section) alone, so the same seed always gives the same look.
(The Cycles noise seed is not part of it: the renderer takes that per view.)
The room's draws come after every other draw, so a room leaves the rest of
the look as it would be outdoors.

Colours are stored in linear Rec.709 RGB, which is what Blender's shader
inputs take; they are drawn in sRGB/HSV, where "plausible clothing colour" is
easier to express, and converted once.

Which garment covers which body part (``garment_of_part``):

- head, hands → skin (always);
- neck → skin (collars are not modelled);
- torso, upper arms → top; forearms → top with long sleeves, else skin;
- hips, thighs → bottom; shins → bottom with long legwear, else skin;
- feet → shoes.

A take with several bodies (``partners``) dresses each partner in a look of
its own (``BodyLook``), drawn from (appearance seed, person index) apart from
every other draw, so person 0's look is the one-person take's.

The record is what is rendered. A clothing texture (``randomize.textures_dir``)
dresses the whole body, so with one the procedural draws (skin, top, bottom,
shoes) are not rendered and are recorded as None, and the sleeve and leg
length are the texture's own (``textures.TextureCut``), or None where the
texture folder does not say.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from synthact.body.skeleton import PART_NAMES
from synthact.scene.environment import KeyLight, sun_azimuth_for, turned
from synthact.scene.supports import Prop
from synthact.scene.textures import TextureCut, draw_texture
from synthact.seeding import rng_for

PATTERNS = ("plain", "noise", "stripes", "checker")
GARMENTS = ("skin", "top", "bottom", "shoes")

RGB = tuple[float, float, float]

# Skin tones from light to dark, sRGB 0-255. A draw interpolates between two
# neighbours, so any tone along this ramp can appear.
_SKIN_RAMP_SRGB = np.array(
    [
        (246, 221, 204),
        (232, 190, 160),
        (214, 164, 128),
        (186, 130, 94),
        (150, 98, 66),
        (112, 72, 48),
        (78, 50, 34),
        (52, 34, 26),
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class Surface:
    """A procedural material: two colours mixed by a pattern.

    Attributes:
        color: Main colour, linear RGB in [0, 1].
        color2: Second colour of the pattern, linear RGB in [0, 1].
        pattern: One of ``PATTERNS``; ``"plain"`` uses ``color`` alone.
        scale: The pattern texture's Scale input (higher = finer).
        roughness: Principled BSDF roughness in [0, 1].
    """

    color: RGB
    color2: RGB
    pattern: str
    scale: float
    roughness: float

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {self.pattern!r}; expected one of {PATTERNS}")


@dataclass(frozen=True)
class AppearanceRanges:
    """The ranges appearance draws come from (the config's ``randomize`` section).

    The defaults are the ranges SynthAct has always drawn from; with them the
    draws are exactly the earlier ones. ``[a, b]`` ranges are uniform except
    ``hdri_strength``, which is log-uniform.
    """

    hdri_rotation_deg: tuple[float, float] = (0.0, 360.0)
    hdri_strength: tuple[float, float] = (0.6, 1.6)
    sun_probability: float = 0.5
    sun_strength: tuple[float, float] = (1.0, 4.0)
    sun_elevation_deg: tuple[float, float] = (20.0, 75.0)
    clothing_patterns: tuple[str, ...] = PATTERNS
    long_sleeves_probability: float = 0.5
    long_legs_probability: float = 0.7
    room_light_w: tuple[float, float] = (100.0, 300.0)
    room_sky_strength: tuple[float, float] = (0.1, 0.4)

    @classmethod
    def from_config(cls, randomize: Mapping[str, Any]) -> AppearanceRanges:
        """Ranges from the config's ``randomize`` section; keys not given keep the defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in randomize:
                value = randomize[f.name]
                values[f.name] = tuple(value) if isinstance(value, (list, tuple)) else float(value)
        return cls(**values)

    def pattern_probs(self, base: Sequence[float]) -> tuple[float, ...]:
        """``base`` chances of ``PATTERNS`` restricted to ``clothing_patterns``.

        Unchanged when every pattern is allowed (so the draws are too); else the
        others' chances go to the allowed ones proportionally, or evenly where
        the allowed ones had none.
        """
        if set(self.clothing_patterns) >= set(PATTERNS):
            return tuple(base)
        kept = [p if name in self.clothing_patterns else 0.0 for name, p in zip(PATTERNS, base, strict=True)]
        if sum(kept) <= 0.0:
            kept = [1.0 if name in self.clothing_patterns else 0.0 for name in PATTERNS]
        total = sum(kept)
        return tuple(p / total for p in kept)


@dataclass(frozen=True)
class RoomLook:
    """The room scene's materials and lights (``render.scene: room``).

    Attributes:
        wall: Material of the walls and ceiling.
        wood: Material of the table, shelf and TV stand.
        fabric: Material of the sofa.
        counter: Material of the kitchen counter and cabinet.
        light_w: Power of each ceiling light, W.
        sky_strength: HDRI ambient inside the room, as a multiplier of ``hdri_strength``.
    """

    wall: Surface
    wood: Surface
    fabric: Surface
    counter: Surface
    light_w: float
    sky_strength: float


@dataclass(frozen=True)
class BodyLook:
    """How one partner body is dressed: skin and garments, or a texture (as ``Appearance``'s fields)."""

    skin: RGB | None
    top: Surface | None
    bottom: Surface | None
    shoes: Surface | None
    long_sleeves: bool | None
    long_legs: bool | None
    texture: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = _lists(asdict(self))
        if out["texture"] is None:
            del out["texture"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BodyLook:
        values = dict(data)
        for key in ("top", "bottom", "shoes"):
            if values.get(key) is not None:
                values[key] = _surface_from_dict(values[key])
        if values.get("skin") is not None:
            values["skin"] = tuple(values["skin"])
        return cls(**values)


@dataclass(frozen=True)
class Appearance:
    """Everything random about how a clip looks, besides motion and camera.

    Attributes:
        hdri: Name of the world HDRI (file stem, e.g. ``"forest"``).
        hdri_rotation_deg: Rotation of the HDRI about the world Z axis.
        hdri_strength: Multiplier of the HDRI's radiance.
        sun_strength: Sun irradiance in W/m²; 0 disables the sun.
        sun_elevation_deg: Sun elevation above the horizon.
        sun_azimuth_deg: Sun azimuth about world Z.
        skin: Skin tone, linear RGB; None with a texture.
        top: Material of the top (shirt, jacket); None with a texture.
        bottom: Material of the bottom (trousers, shorts, skirt); None with a texture.
        shoes: Material of the shoes; None with a texture.
        ground: Material of the ground plane; None where the person stands on
            the HDRI's own ground (a shadow catcher that shows the HDRI below
            its horizon, with the person's shadow on it).
        long_sleeves: Whether the top also covers the forearms; None where a
            texture paints a cut its folder does not describe.
        long_legs: Whether the bottom also covers the shins; as ``long_sleeves``.
        room: The room's look, for the room scene only (the ground is its floor).
        texture: File name of the clothing texture in ``randomize.textures_dir``
            that dresses the whole body (skin included), or None for the
            procedural garments above.
        props: Supports placed under the body where it sits, lies or climbs (``supports.py``).
        prop_surface: Their material; None without props.
        backgrounds: View name → picture behind the person (a path in
            ``randomize.backgrounds_dir``); empty: the HDRI is the background.
        partners: The looks of bodies 1.. of a take with several bodies (body 0
            wears the fields above); empty for one body.
    """

    hdri: str
    hdri_rotation_deg: float
    hdri_strength: float
    sun_strength: float
    sun_elevation_deg: float
    sun_azimuth_deg: float
    skin: RGB | None
    top: Surface | None
    bottom: Surface | None
    shoes: Surface | None
    ground: Surface | None
    long_sleeves: bool | None
    long_legs: bool | None
    room: RoomLook | None = None
    texture: str | None = None
    props: tuple[Prop, ...] = ()
    prop_surface: Surface | None = None
    backgrounds: Mapping[str, str] = field(default_factory=dict)
    partners: tuple[BodyLook, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (tuples become lists).

        No ``room`` key outdoors, no ``texture`` key without one, no ``props`` keys without props,
        no ``partners`` key for one body.
        """
        out = _lists(asdict(self))
        for key in ("room", "texture", "prop_surface"):
            if out[key] is None:
                del out[key]
        out["props"] = [prop.to_dict() for prop in self.props]
        out["partners"] = [look.to_dict() for look in self.partners]
        for key in ("props", "backgrounds", "partners"):
            if not out[key]:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Appearance:
        """Inverse of ``to_dict``."""
        values = dict(data)
        values["props"] = tuple(Prop.from_dict(prop) for prop in values.get("props", ()))
        values["backgrounds"] = dict(values.get("backgrounds", {}))
        values["partners"] = tuple(BodyLook.from_dict(look) for look in values.get("partners", ()))
        for key in ("top", "bottom", "shoes", "ground", "prop_surface"):
            if values.get(key) is not None:
                values[key] = _surface_from_dict(values[key])
        if values.get("skin") is not None:
            values["skin"] = tuple(values["skin"])
        if values.get("room") is not None:
            room = dict(values["room"])
            for key in ("wall", "wood", "fabric", "counter"):
                room[key] = _surface_from_dict(room[key])
            values["room"] = RoomLook(**room)
        return cls(**values)

    @property
    def num_persons(self) -> int:
        return 1 + len(self.partners)

    def look(self, person: int) -> BodyLook:
        """What body ``person`` wears (0: this appearance's own garments or texture)."""
        if person > 0:
            return self.partners[person - 1]
        return BodyLook(self.skin, self.top, self.bottom, self.shoes, self.long_sleeves, self.long_legs, self.texture)

    def worn_by(self, person: int) -> Appearance:
        """This appearance with body ``person``'s look in body 0's fields: what one body's materials read."""
        if person == 0:
            return self
        return replace(self, **{f.name: getattr(self.partners[person - 1], f.name) for f in fields(BodyLook)})

    def garment_surfaces(self) -> dict[str, Surface]:
        """The material of each of ``GARMENTS``; skin becomes a plain ``Surface``. Empty with a texture."""
        if self.skin is None or self.top is None or self.bottom is None or self.shoes is None:
            return {}
        skin = Surface(self.skin, self.skin, "plain", 1.0, 0.5)
        return {"skin": skin, "top": self.top, "bottom": self.bottom, "shoes": self.shoes}


def _surface_from_dict(data: Mapping[str, Any]) -> Surface:
    surf = dict(data)
    surf["color"] = tuple(surf["color"])
    surf["color2"] = tuple(surf["color2"])
    return Surface(**surf)


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_lists(v) for v in value]
    return value


def garment_of_part(appearance: Appearance) -> tuple[str, ...]:
    """Garment name (one of ``GARMENTS``) for each part id; index 0 is background.

    Args:
        appearance: Decides sleeve and leg length.

    Returns:
        A tuple of ``len(PART_NAMES)`` names; entry 0 is ``"skin"`` and unused.
    """
    fixed = {"head": "skin", "neck": "skin", "torso": "top", "hips": "bottom"}
    by_kind = {
        "upper_arm": "top",
        "forearm": "top" if appearance.long_sleeves else "skin",
        "hand": "skin",
        "thigh": "bottom",
        "shin": "bottom" if appearance.long_legs else "skin",
        "foot": "shoes",
    }
    out = []
    for name in PART_NAMES:
        if name in fixed:
            out.append(fixed[name])
        elif name == "background":
            out.append("skin")
        else:
            out.append(by_kind[name.split("_", 1)[1]])
    return tuple(out)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB electro-optical transfer function (values in [0, 1])."""
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _rgb(values: np.ndarray) -> RGB:
    r, g, b = (round(float(v), 6) for v in values)
    return (r, g, b)


def _hsv_linear(h: float, s: float, v: float) -> RGB:
    return _rgb(srgb_to_linear(np.array(colorsys.hsv_to_rgb(h, s, v))))


def _clothing_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    # Clothing is mostly muted: low saturation is likelier than vivid colour,
    # and a fifth of garments are near-neutral (black, grey, white).
    if rng.random() < 0.2:
        return 0.0, 0.0, float(rng.uniform(0.08, 0.92))
    return float(rng.random()), float(rng.beta(1.5, 2.5)), float(rng.uniform(0.15, 0.9))


def _second_colour(rng: np.random.Generator, h: float, s: float, v: float) -> RGB:
    if rng.random() < 0.5:  # a shade of the same hue
        return _hsv_linear(h, s, float(np.clip(v * rng.uniform(0.35, 0.75), 0.0, 1.0)))
    h2, s2, v2 = _clothing_colour(rng)
    return _hsv_linear(h2, s2, v2)


def _surface(
    rng: np.random.Generator,
    pattern_probs: Sequence[float],
    scale_range: tuple[float, float],
    roughness_range: tuple[float, float],
) -> Surface:
    h, s, v = _clothing_colour(rng)
    color2 = _second_colour(rng, h, s, v)
    pattern = PATTERNS[int(rng.choice(len(PATTERNS), p=pattern_probs))]
    scale = float(np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]))))
    return Surface(
        color=_hsv_linear(h, s, v),
        color2=color2,
        pattern=pattern,
        scale=round(scale, 4),
        roughness=round(float(rng.uniform(*roughness_range)), 4),
    )


def _skin(rng: np.random.Generator) -> RGB:
    x = rng.uniform(0.0, len(_SKIN_RAMP_SRGB) - 1)
    i = min(int(x), len(_SKIN_RAMP_SRGB) - 2)
    srgb = (_SKIN_RAMP_SRGB[i] * (i + 1 - x) + _SKIN_RAMP_SRGB[i + 1] * (x - i)) / 255.0
    srgb = srgb * rng.uniform(0.95, 1.05, size=3)  # small per-channel variation
    return _rgb(srgb_to_linear(np.clip(srgb, 0.0, 1.0)))


def _ground(rng: np.random.Generator) -> Surface:
    # Earthy / concrete tones: low saturation, mid values.
    h = float(rng.uniform(0.0, 0.2) if rng.random() < 0.6 else rng.random())
    s = float(rng.uniform(0.0, 0.4))
    v = float(rng.uniform(0.25, 0.8))
    return Surface(
        color=_hsv_linear(h, s, v),
        color2=_hsv_linear(h, s, float(v * rng.uniform(0.5, 0.9))),
        pattern=("noise", "checker", "plain")[int(rng.choice(3, p=(0.5, 0.35, 0.15)))],
        scale=round(float(rng.uniform(0.5, 4.0)), 4),
        roughness=round(float(rng.uniform(0.4, 0.95)), 4),
    )


def _room(rng: np.random.Generator, ranges: AppearanceRanges) -> RoomLook:
    # Walls: light, muted paint; wood: browns; counters: greys and whites.
    wall_h, wall_s, wall_v = float(rng.random()), float(rng.uniform(0.0, 0.25)), float(rng.uniform(0.65, 0.95))
    wall = Surface(
        color=_hsv_linear(wall_h, wall_s, wall_v),
        color2=_hsv_linear(wall_h, wall_s, wall_v * float(rng.uniform(0.85, 0.97))),
        pattern=("plain", "noise", "stripes")[int(rng.choice(3, p=(0.5, 0.35, 0.15)))],
        scale=round(float(rng.uniform(0.5, 3.0)), 4),
        roughness=round(float(rng.uniform(0.6, 0.95)), 4),
    )
    wood_h, wood_v = float(rng.uniform(0.04, 0.11)), float(rng.uniform(0.2, 0.7))
    wood = Surface(
        color=_hsv_linear(wood_h, float(rng.uniform(0.35, 0.7)), wood_v),
        color2=_hsv_linear(wood_h, float(rng.uniform(0.35, 0.7)), wood_v * float(rng.uniform(0.55, 0.85))),
        pattern="stripes",
        scale=round(float(rng.uniform(3.0, 12.0)), 4),
        roughness=round(float(rng.uniform(0.3, 0.7)), 4),
    )
    fabric = _surface(rng, (0.6, 0.3, 0.05, 0.05), (2.0, 15.0), (0.7, 0.95))
    counter_v = float(rng.uniform(0.3, 0.9))
    counter = Surface(
        color=_hsv_linear(0.0, 0.0, counter_v),
        color2=_hsv_linear(0.0, 0.0, counter_v * float(rng.uniform(0.6, 0.9))),
        pattern=("plain", "noise")[int(rng.integers(2))],
        scale=round(float(rng.uniform(2.0, 10.0)), 4),
        roughness=round(float(rng.uniform(0.2, 0.6)), 4),
    )
    return RoomLook(
        wall=wall,
        wood=wood,
        fabric=fabric,
        counter=counter,
        light_w=round(float(rng.uniform(*ranges.room_light_w)), 3),
        sky_strength=round(float(rng.uniform(*ranges.room_sky_strength)), 4),
    )


def sample_appearance(
    seed: int,
    hdri_names: Sequence[str],
    ranges: AppearanceRanges = AppearanceRanges(),
    room: bool = False,
    textures: Sequence[str] | Mapping[str, TextureCut | None] = (),
    key_light: Callable[[str], KeyLight] | None = None,
    hdri_ground: bool = False,
) -> Appearance:
    """Draw one appearance from ``numpy.random.default_rng(seed)`` alone.

    The texture is drawn last (after the room), so adding textures leaves
    every other draw as it was.

    Args:
        seed: Non-negative seed, computed by the caller from (global seed,
            clip id).
        hdri_names: HDRIs to choose from; sorted first, so their order
            does not matter.
        ranges: Where each value is drawn from.
        room: Also draw the room's look (after everything else).
        textures: Names of clothing textures (``textures.list_textures``), or
            names with the cut each paints (``textures.read_cuts``); one is
            drawn when given, and the garments recorded are its own.
        key_light: The brightest direction of an HDRI, by name
            (``environment.key_light``): outdoors, the sun then always shines,
            from there (``lit_by_sky``).
        hdri_ground: Outdoors, the person stands on the HDRI's own ground
            (``ground`` None) instead of a procedural one.

    Returns:
        The appearance; the same seed, names and ranges always give the same one.
    """
    names = sorted(hdri_names)
    if not names:
        raise ValueError("hdri_names is empty")
    rng = np.random.default_rng(seed)
    hdri = names[int(rng.integers(len(names)))]
    hdri_rotation = round(float(rng.uniform(*ranges.hdri_rotation_deg)), 3)
    low, high = ranges.hdri_strength
    hdri_strength = round(float(np.exp(rng.uniform(np.log(low), np.log(high)))), 4)
    has_sun = rng.random() < ranges.sun_probability
    sun_strength = round(float(rng.uniform(*ranges.sun_strength)), 4) if has_sun else 0.0
    sun_elevation = round(float(rng.uniform(*ranges.sun_elevation_deg)), 3)
    sun_azimuth = round(float(rng.uniform(0.0, 360.0)), 3)
    skin = _skin(rng)
    top = _surface(rng, ranges.pattern_probs((0.45, 0.15, 0.25, 0.15)), (3.0, 30.0), (0.4, 0.9))
    bottom = _surface(rng, ranges.pattern_probs((0.55, 0.3, 0.1, 0.05)), (3.0, 40.0), (0.5, 0.95))
    shoes = _surface(rng, ranges.pattern_probs((0.85, 0.15, 0.0, 0.0)), (5.0, 40.0), (0.2, 0.8))
    ground = _ground(rng)
    long_sleeves = bool(rng.random() < ranges.long_sleeves_probability)
    long_legs = bool(rng.random() < ranges.long_legs_probability)
    drawn = Appearance(
        hdri=hdri,
        hdri_rotation_deg=hdri_rotation,
        hdri_strength=hdri_strength,
        sun_strength=sun_strength,
        sun_elevation_deg=sun_elevation,
        sun_azimuth_deg=sun_azimuth,
        skin=skin,
        top=top,
        bottom=bottom,
        shoes=shoes,
        ground=ground,
        long_sleeves=long_sleeves,
        long_legs=long_legs,
        room=_room(rng, ranges) if room else None,
    )
    if not room:  # indoors the room's lights and floor take these parts
        drawn = lit_by_sky(drawn, key_light(hdri), ranges) if key_light is not None else drawn
        drawn = replace(drawn, ground=None) if hdri_ground else drawn
    # Drawn last, so adding textures leaves every other draw as it was.
    return dress(drawn, textures, draw_texture(rng, list(textures))) if textures else drawn


def draw_look(
    rng: np.random.Generator,
    ranges: AppearanceRanges = AppearanceRanges(),
    textures: Sequence[str] | Mapping[str, TextureCut | None] = (),
) -> BodyLook:
    """One body's skin and garments, drawn as ``sample_appearance`` draws body 0's (texture last)."""
    skin = _skin(rng)
    top = _surface(rng, ranges.pattern_probs((0.45, 0.15, 0.25, 0.15)), (3.0, 30.0), (0.4, 0.9))
    bottom = _surface(rng, ranges.pattern_probs((0.55, 0.3, 0.1, 0.05)), (3.0, 40.0), (0.5, 0.95))
    shoes = _surface(rng, ranges.pattern_probs((0.85, 0.15, 0.0, 0.0)), (5.0, 40.0), (0.2, 0.8))
    long_sleeves = bool(rng.random() < ranges.long_sleeves_probability)
    long_legs = bool(rng.random() < ranges.long_legs_probability)
    look = BodyLook(skin, top, bottom, shoes, long_sleeves, long_legs)
    if not textures:
        return look
    name = draw_texture(rng, list(textures))
    cut = textures.get(name) if isinstance(textures, Mapping) else None
    return BodyLook(
        None, None, None, None, None if cut is None else cut.long_sleeves, None if cut is None else cut.long_legs, name
    )


def with_partners(
    appearance: Appearance,
    seed: int,
    num_persons: int,
    ranges: AppearanceRanges = AppearanceRanges(),
    textures: Sequence[str] | Mapping[str, TextureCut | None] = (),
) -> Appearance:
    """``appearance`` with a look for each of bodies 1 .. ``num_persons`` - 1, each drawn from
    (``seed``, person index) alone: body 0's look and every scene draw stay as they were."""
    looks = tuple(draw_look(rng_for(seed, "person", k), ranges, textures) for k in range(1, num_persons))
    return replace(appearance, partners=looks)


KEY_LIGHT_MIN_ELEVATION_DEG = 10.0  # a key at the horizon would throw the shadow out of frame


def lit_by_sky(appearance: Appearance, light: KeyLight, ranges: AppearanceRanges) -> Appearance:
    """``appearance`` with its sun moved to where its HDRI is brightest, once turned.

    Every take gets the sun, so every take casts a shadow that agrees with its
    sky: at the drawn strength where a sun was drawn (``sun_probability``),
    else at the weakest of ``sun_strength``, as under an overcast sky.
    """
    azimuth, elevation = turned(light, appearance.hdri_rotation_deg)
    strength = appearance.sun_strength if appearance.sun_strength > 0 else float(ranges.sun_strength[0])
    return replace(
        appearance,
        sun_strength=round(strength, 4),
        sun_azimuth_deg=sun_azimuth_for(azimuth),
        sun_elevation_deg=round(max(elevation, KEY_LIGHT_MIN_ELEVATION_DEG), 3),
    )


def furnish(appearance: Appearance, props: Sequence[Prop], seed: int) -> Appearance:
    """``appearance`` with ``props`` and a fabric for them, drawn from ``seed`` apart from every other draw."""
    if not props:
        return appearance
    surface = _surface(rng_for(seed, "props"), (0.6, 0.3, 0.05, 0.05), (2.0, 15.0), (0.6, 0.95))
    return replace(appearance, props=tuple(props), prop_surface=surface)


def dress(appearance: Appearance, textures: Sequence[str] | Mapping[str, TextureCut | None], name: str) -> Appearance:
    """``appearance`` dressed in texture ``name``: the garments it records become the texture's."""
    cut = textures.get(name) if isinstance(textures, Mapping) else None
    return replace(
        appearance,
        texture=name,
        skin=None,
        top=None,
        bottom=None,
        shoes=None,
        long_sleeves=None if cut is None else cut.long_sleeves,
        long_legs=None if cut is None else cut.long_legs,
    )


# Body mass through the shape space: SMPL's second shape component (beta 1)
# is mostly weight at constant height, and so is the demo body's
# (``demo/body_shape.py``: beta 1 = +1.6 cm waist radius per unit). A draw
# adds a uniform offset to beta 1 alone. Bounds: +-3 is the range over which
# SMPL's PCA stays plausible (about 3 standard deviations of the CAESAR
# scans it was fitted to); beyond it the surface self-intersects.
BODY_MASS_BETA = 1
BODY_MASS_BOUNDS = (-3.0, 3.0)


def body_mass_offset(rng: np.random.Generator, mass_range: Sequence[float], count: int) -> np.ndarray:
    """(count,) float32 betas offset: uniform in ``mass_range`` on beta 1, zero elsewhere.

    Args:
        rng: The take's body-shape generator (e.g. ``rng_for(seed, take_id, "body_mass")``).
        mass_range: [low, high] within ``BODY_MASS_BOUNDS``; [0, 0] draws nothing.
        count: Number of betas.
    """
    low, high = (float(v) for v in mass_range)
    if not BODY_MASS_BOUNDS[0] <= low <= high <= BODY_MASS_BOUNDS[1]:
        raise ValueError(
            f"randomize.body_mass_range {list(mass_range)}: expected low <= high within {BODY_MASS_BOUNDS}"
        )
    out = np.zeros(count, np.float32)
    if high > low:
        out[BODY_MASS_BETA] = rng.uniform(low, high)
    elif low != 0.0:
        out[BODY_MASS_BETA] = low
    return out

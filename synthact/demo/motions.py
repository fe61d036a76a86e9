"""The procedural action library of the built-in demo.

Each action is a function of continuous time (seconds from the action's start,
already clipped to ``[0, duration]``), so it can be sampled at any frame rate.
It returns body-local joint rotations (``BodyAngles`` turned into quaternions),
the heading change it makes and how high it lifts the body off the floor.
Where the body goes on the floor is not decided here: ``sequences`` derives it
from the feet, so feet that stand still stay put.

Every action starts and ends in its ``start_state``/``end_state`` rest pose
(standing, or seated on an invisible chair), so actions chain cleanly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from synthact.demo.kinematics import SIDES
from synthact.demo.posing import (
    SEATED,
    STANDING,
    ActionFrames,
    Style,
    bump,
    ease,
    flat_feet,
    keys,
    make_frames,
    positive,
    seat,
    standing,
    window,
)

GRAVITY = 9.81  # m/s^2


ActionFn = Callable[[np.ndarray, float, Style], ActionFrames]


@dataclass(frozen=True)
class ActionSpec:
    """An action of the library and its BABEL-style labels."""

    name: str
    raw_label: str  # as an annotator would type it
    proc_label: str  # BABEL's normalised form
    act_cat: tuple[str, ...]  # BABEL category names
    min_dur: float
    max_dur: float
    fn: ActionFn
    start_state: str = STANDING
    end_state: str = STANDING


# --------------------------------------------------------------------------- locomotion


@dataclass(frozen=True)
class Gait:
    """Shape of a cyclic gait; angles in radians at style 1."""

    freq: float  # cycles per second (two steps)
    hip_mid: float
    hip_amp: float
    knee_swing: float
    knee_stance: float
    toe_off: float
    arm_amp: float
    elbow: float
    lean: float


WALK = Gait(0.95, 0.08, 0.22, 0.95, 0.15, 0.35, 0.32, 0.15, 0.04)
JOG = Gait(1.35, 0.16, 0.4, 1.55, 0.3, 0.45, 0.45, 1.45, 0.12)
BACKWARDS = Gait(0.75, 0.08, 0.26, 0.75, 0.1, 0.25, 0.15, 0.1, -0.02)


def gait(t: np.ndarray, dur: float, st: Style, g: Gait, backwards: bool = False) -> ActionFrames:
    """Walk-like cycles that speed up from a stand and slow down to one."""
    b = standing(t.size, st)
    env = window(t, dur, 0.45)
    phase = 2 * np.pi * g.freq * st.speed * t
    if backwards:
        # Walking backwards is close to forward walking played in reverse.
        phase = -phase
    for side, offset in (("left", 0.0), ("right", np.pi)):
        ph = phase + offset
        leg = b.leg[side]
        # Phase: hip flexion peaks at pi/2 (heel strike) and extension at -pi/2 (toe-off).
        # Swing is while the hip flexes (cos > 0): knee peaks early in it.
        leg.hip_flex = env * st.stride * (g.hip_mid + g.hip_amp * np.sin(ph))
        swing = positive(np.cos(ph + 0.5)) ** 2
        loading = positive(np.cos(ph - np.pi / 2 - 0.6)) ** 4
        leg.knee = env * (0.05 + g.knee_swing * st.stride * swing + g.knee_stance * loading)
        push = positive(np.cos(ph + 1.3)) ** 4
        leg.ankle = env * (g.toe_off * push - 0.15 * positive(np.cos(ph - 0.3)) ** 2)
        arm = b.arm[side]
        arm_phase = np.sin(ph + np.pi)  # arms swing against the legs
        arm.forward = env * st.arm_swing * g.arm_amp * arm_phase + env * 0.5 * g.lean
        arm.elbow = st.elbow_rest + env * (g.elbow + 0.2 * positive(arm_phase))
    b.pelvis_yaw = -0.07 * env * st.stride * np.sin(phase)
    b.twist = 0.1 * env * st.stride * np.sin(phase)
    b.bend = st.lean + env * g.lean
    return make_frames(b)


def turn(t: np.ndarray, dur: float, st: Style, direction: float) -> ActionFrames:
    """Turn on the spot in small steps, head leading (``direction`` +1 = left)."""
    b = standing(t.size, st)
    yaw = direction * st.turn_angle * ease(t, 0.1, dur - 0.15)
    n_steps = max(2, round((dur - 0.25) / 0.5))
    step = (dur - 0.25) / n_steps
    first, second = ("left", "right") if direction > 0 else ("right", "left")
    for k in range(n_steps):
        side = first if k % 2 == 0 else second
        lift = bump(t, 0.1 + k * step, 0.1 + (k + 1) * step)
        b.leg[side].hip_flex = b.leg[side].hip_flex + 0.25 * lift
        b.leg[side].knee = b.leg[side].knee + 0.5 * lift
    flat_feet(b)  # a lifted foot tilted toes-down would reach below the standing one
    b.look = direction * 0.35 * bump(t, 0.0, 0.75 * dur) * st.amplitude
    b.twist = direction * 0.12 * bump(t, 0.0, 0.8 * dur)
    return make_frames(b, yaw=yaw)


def side_step(t: np.ndarray, dur: float, st: Style, direction: float) -> ActionFrames:
    """Side steps: both legs open into an inverted V, then close (+1 = left)."""
    b = standing(t.size, st)
    lead, trail = ("left", "right") if direction > 0 else ("right", "left")
    n_steps = max(1, round((dur - 0.2) / 0.9))
    cycle = (dur - 0.2) / n_steps
    spread = 0.17 * st.stride
    for k in range(n_steps):
        t0 = 0.1 + k * cycle
        opened = bump(t, t0, t0 + cycle)
        for side in SIDES:
            b.leg[side].hip_abd = b.leg[side].hip_abd + spread * opened
        # Lift the lead leg while opening, the trail leg while closing.
        for side, (a, z) in ((lead, (0.0, 0.5)), (trail, (0.5, 1.0))):
            lift = bump(t, t0 + a * cycle, t0 + z * cycle)
            b.leg[side].hip_flex = b.leg[side].hip_flex + 0.35 * lift
            b.leg[side].knee = b.leg[side].knee + 0.7 * lift
    for side in SIDES:
        b.arm[side].down = b.arm[side].down - 0.15 * window(t, dur, 0.3)
    flat_feet(b)
    return make_frames(b)


# --------------------------------------------------------------------------- gestures


def wave(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Raise the dominant hand beside the head and wave it from the elbow."""
    b = standing(t.size, st)
    arm = b.arm["right" if st.right_handed else "left"]
    up = window(t, dur, 0.45)
    arm.down = st.arm_hang + (0.25 - st.arm_hang) * up
    arm.across = 0.35 * up
    arm.twist = 1.45 * up
    waving = 1.7 + 0.35 * st.amplitude * np.sin(2 * np.pi * 2.2 * st.speed * t)
    arm.elbow = st.elbow_rest + (waving - st.elbow_rest) * up
    arm.curl = st.curl * (1 - up)
    arm.shrug = 0.1 * up
    return make_frames(b)


def clap(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Clap in front of the chest."""
    b = standing(t.size, st)
    up = window(t, dur, 0.4)
    closing = 0.5 - 0.5 * np.cos(2 * np.pi * 2.2 * st.speed * (t - 0.4))
    for side in SIDES:
        arm = b.arm[side]
        arm.down = st.arm_hang + (np.pi / 2 - st.arm_hang) * up
        arm.forward = 0.75 * up
        arm.elbow = st.elbow_rest + (1.3 - st.elbow_rest) * up
        # Palms meet at about 0.34 rad across; 0.12 leaves them a hand apart.
        arm.across = up * (0.34 - 0.22 * st.amplitude * (1 - closing))
        arm.curl = st.curl * (1 - up)
    return make_frames(b)


def raise_arms(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Raise both arms overhead, forward or out to the sides, and lower them."""
    b = standing(t.size, st)
    r = keys(t, [0, 0.1, 0.45 * dur, 0.7 * dur, dur - 0.05], [0, 0, 1, 1, 0])
    for side in SIDES:
        arm = b.arm[side]
        if st.raise_sideways:
            arm.down = st.arm_hang + (-1.35 - st.arm_hang) * r
            arm.twist = 1.5 * r
        else:
            arm.down = st.arm_hang + (np.pi / 2 - st.arm_hang) * r
            arm.forward = 2.85 * r
        arm.elbow = st.elbow_rest * (1 - r)
        arm.curl = st.curl * (1 - 0.7 * r)
    b.bend = st.lean - 0.12 * r
    b.nod = b.nod - 0.3 * r * st.amplitude
    return make_frames(b)


def bow(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Bow from the hips with a rounded back, then straighten."""
    b = standing(t.size, st)
    d = st.amplitude * keys(t, [0, 0.1, 0.45 * dur, 0.65 * dur, dur - 0.05], [0, 0, 1, 1, 0])
    b.pelvis_tilt = 0.5 * d
    b.bend = st.lean + 0.45 * d
    b.nod = b.nod + 0.3 * d
    for side in SIDES:
        # Hips move back a little: thighs lean forward, knees soften.
        b.leg[side].hip_flex = 0.58 * d
        b.leg[side].knee = 0.14 * d
        b.arm[side].forward = 0.25 * d
    flat_feet(b)
    return make_frames(b)


def punch(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Raise a guard and throw alternating straight punches."""
    b = standing(t.size, st)
    guard = window(t, dur, 0.35)
    n_punches = max(2, int((dur - 0.6) / 0.45))
    first = "right" if st.right_handed else "left"
    order = [first, "left" if first == "right" else "right"]
    reach = {side: np.zeros(t.size) for side in SIDES}
    for k in range(n_punches):
        t0 = 0.3 + k * (dur - 0.6) / n_punches
        side = order[k % 2]
        reach[side] = reach[side] + keys(t, [t0, t0 + 0.15, t0 + 0.4], [0, 1, 0]) * st.amplitude
    for side in SIDES:
        arm, e = b.arm[side], reach[side]
        arm.down = st.arm_hang + (np.pi / 2 - st.arm_hang) * guard
        arm.forward = guard * (0.7 + 0.85 * e)
        arm.elbow = st.elbow_rest + guard * (2.1 - st.elbow_rest - 2.0 * e)
        arm.across = guard * (0.3 - 0.18 * e)
        arm.curl = st.curl + (1.4 - st.curl) * guard
        b.leg[side].knee = 0.2 * guard
        b.leg[side].hip_flex = 0.1 * guard
    # A right punch turns the trunk to the left, and the other way round.
    b.twist = 0.25 * (reach["right"] - reach["left"])
    b.bend = st.lean + 0.08 * guard
    flat_feet(b)
    return make_frames(b)


def stand(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Stand and look around, shifting weight a little."""
    b = standing(t.size, st)
    calm = window(t, dur, 0.4)
    b.look = 0.5 * st.amplitude * calm * np.sin(2 * np.pi * t / dur)
    b.pelvis_roll = 0.03 * calm * np.sin(2 * np.pi * 0.5 * t)
    b.side = -0.5 * b.pelvis_roll  # the trunk stays upright over a tilting pelvis
    return make_frames(b)


# --------------------------------------------------------------------------- whole body


def jump(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Counter-movement jump in place: crouch, swing the arms, fly, land softly."""
    b = standing(t.size, st)
    flight = 2.0 * np.sqrt(2.0 * st.jump_height / GRAVITY)
    t_down, t_off = 0.55, 0.75
    t_land = t_off + flight
    t_up = min(dur - 0.05, t_land + 0.7)
    crouch = keys(
        t, [0, 0.1, t_down, t_off, t_off + flight / 2, t_land, t_land + 0.12, t_up], [0, 0, 1, 0, 0.2, 0, 0.7, 0]
    )
    toes = keys(t, [t_down, t_off, t_land, t_land + 0.1], [0, 0.8, 0.3, 0])
    b.pelvis_tilt = 0.35 * crouch
    b.bend = st.lean + 0.25 * crouch
    for side in SIDES:
        # Thighs forward more than the shins: hips end up behind the feet.
        b.leg[side].hip_flex = 1.35 * crouch
        b.leg[side].knee = 1.4 * crouch
        arm = b.arm[side]
        arm.forward = keys(t, [0, 0.1, t_down, t_off, t_land, t_up], [0, 0, -0.7, 2.2, 0.6, 0]) * st.amplitude
        arm.elbow = st.elbow_rest + 0.3 * crouch
    flat_feet(b)
    for side in SIDES:
        b.leg[side].ankle = b.leg[side].ankle + toes
    u = np.clip(t - t_off, 0.0, flight)
    lift = 0.5 * GRAVITY * u * (flight - u)  # ballistic arc, zero at take-off and landing
    return make_frames(b, lift=lift)


def squat(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """One or two squats with the arms held out in front for balance."""
    b = standing(t.size, st)
    reps = 1 if dur < 2.3 else 2
    rep = (dur - 0.1) / reps
    c = sum(keys(t, [0.05 + k * rep + f * rep for f in (0, 0.42, 0.58, 1)], [0, 1, 1, 0]) for k in range(reps))
    c = c * st.amplitude
    b.pelvis_tilt = 0.25 * c
    b.bend = st.lean + 0.3 * c
    b.nod = b.nod - 0.25 * c
    for side in SIDES:
        b.leg[side].hip_flex = 1.45 * c
        b.leg[side].knee = 1.9 * c
        arm = b.arm[side]
        arm.down = st.arm_hang + (np.pi / 2 - st.arm_hang) * np.minimum(c, 1)
        arm.forward = 1.35 * c
    flat_feet(b)
    return make_frames(b)


def sit_down(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Lower onto a chair behind, leaning forward on the way down."""
    b = standing(t.size, st)
    c = ease(t, 0.15, dur - 0.15)
    lean = bump(t, 0.1, dur - 0.05) * st.amplitude
    b.pelvis_tilt = 0.25 * lean
    b.bend = st.lean + 0.35 * lean
    seat(b, st, c)
    return make_frames(b)


def stand_up(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Rise from a chair: lean forward first, then push up."""
    b = standing(t.size, st)
    c = 1.0 - ease(t, 0.25, dur - 0.1)
    lean = bump(t, 0.05, 0.8 * dur) * st.amplitude
    b.pelvis_tilt = 0.35 * lean
    b.bend = st.lean + 0.4 * lean
    seat(b, st, c)
    return make_frames(b)


def kick(t: np.ndarray, dur: float, st: Style) -> ActionFrames:
    """Front kick: chamber the knee, snap the leg out, retract, step down."""
    b = standing(t.size, st)
    kicker = "right" if st.right_handed else "left"
    support = "left" if kicker == "right" else "right"
    times = [f * dur for f in (0.0, 0.12, 0.38, 0.5, 0.63, 0.85, 1.0)]
    leg = b.leg[kicker]
    leg.hip_flex = keys(t, times, [0, 0.1, 1.1, 1.35, 1.1, 0.1, 0]) * st.amplitude
    leg.knee = keys(t, times, [0, 0.2, 1.7, 0.15, 1.5, 0.2, 0])
    leg.ankle = keys(t, times, [0, 0, 0.3, 0.6, 0.3, 0, 0])
    hold = bump(t, 0.05 * dur, 0.95 * dur)
    b.leg[support].hip_flex = 0.2 * hold
    b.leg[support].knee = 0.25 * hold
    b.pelvis_tilt = -0.12 * bump(t, 0.3 * dur, 0.75 * dur)
    guard = window(t, dur, 0.3)
    for side in SIDES:
        b.arm[side].forward = 0.6 * guard
        b.arm[side].elbow = st.elbow_rest + 1.5 * guard
        b.arm[side].curl = st.curl + (1.2 - st.curl) * guard
    flat_feet(b, (support,))
    return make_frames(b)


# --------------------------------------------------------------------------- registry


def _spec(
    name: str, raw: str, proc: str, cats: tuple[str, ...], dur: tuple[float, float], fn: ActionFn, **kw: str
) -> ActionSpec:
    return ActionSpec(name, raw, proc, cats, dur[0], dur[1], fn, **kw)


ACTIONS: dict[str, ActionSpec] = {
    s.name: s
    for s in (
        _spec("walk", "walks forward", "walk forward", ("walk", "forward movement"), (1.8, 3.0), partial(gait, g=WALK)),
        _spec("jog", "jogs forward", "jog forward", ("jog", "forward movement"), (1.6, 2.6), partial(gait, g=JOG)),
        _spec("turn_left", "turns left", "turn left", ("turn",), (1.5, 2.2), partial(turn, direction=1.0)),
        _spec("turn_right", "turns right", "turn right", ("turn",), (1.5, 2.2), partial(turn, direction=-1.0)),
        _spec(
            "step_left",
            "steps to the left",
            "step to left",
            ("sideways movement", "step"),
            (1.5, 2.6),
            partial(side_step, direction=1.0),
        ),
        _spec(
            "step_right",
            "steps to the right",
            "step to right",
            ("sideways movement", "step"),
            (1.5, 2.6),
            partial(side_step, direction=-1.0),
        ),
        _spec(
            "step_back",
            "steps backwards",
            "step backwards",
            ("backwards movement", "step"),
            (1.8, 3.0),
            partial(gait, g=BACKWARDS, backwards=True),
        ),
        _spec("wave", "waves hand", "wave hand", ("wave", "hand movements"), (1.6, 3.0), wave),
        _spec("clap", "claps hands", "clap hand", ("clap", "hand movements"), (1.5, 2.6), clap),
        _spec("jump", "jumps up", "jump up", ("jump",), (1.7, 2.3), jump),
        _spec("squat", "squats down", "squat down", ("squat",), (1.6, 3.0), squat),
        _spec("sit_down", "sits down", "sit down", ("sit",), (1.5, 2.5), sit_down, end_state=SEATED),
        _spec("stand_up", "stands up", "stand up", ("stand up",), (1.5, 2.5), stand_up, start_state=SEATED),
        _spec("kick", "kicks", "kick", ("kick",), (1.5, 2.2), kick),
        _spec("punch", "punches", "punch", ("punch",), (1.6, 2.8), punch),
        _spec("bow", "bows", "bow", ("bow",), (1.6, 2.8), bow),
        _spec(
            "raise_arms",
            "raises both arms",
            "raise both arm",
            ("raising body part", "arm movements"),
            (1.6, 2.8),
            raise_arms,
        ),
        _spec("stand", "stands still", "stand still", ("stand",), (1.5, 2.2), stand),
    )
}

"""BABEL's 150 action categories, in BABEL's official order.

The index of a name in ``BABEL_CATEGORIES`` is its id in BABEL's
``action_recognition/data/action_label_2_idx.json`` (repository
``abhinanda-punnakkal/BABEL``, the version at commit ``a338184334bd``). The
categories are ordered by frequency: BABEL-60 is ids < 60, BABEL-120 ids < 120.

Provenance note: the public repository's history also holds another version of
that file (commit ``9d81e04de96c``) with a different order and spellings (for
example ``"grab person / body part": 59``, ``"kneel": 60``). That one is not
used here: the a338184 version is the one whose names and ids BABEL's own label
files use (first 60, and anchors such as kneel 61, telephone call 77, eat 126,
march 133), and the one third-party BABEL v1.0 pipelines copy. The spellings
below are BABEL's ``act_cat`` strings and must not be "tidied".
"""

from __future__ import annotations

BABEL_CATEGORIES: tuple[str, ...] = (
    # 0-59: BABEL-60
    "walk", "stand", "hand movements", "turn", "interact with/use object",
    "arm movements", "t pose", "step", "backwards movement", "raising body part",
    "look", "touch object", "leg movements", "forward movement", "circular movement",
    "stretch", "jump", "touching body part", "sit", "place something",
    "take/pick something up", "run", "bend", "throw", "foot movements",
    "a pose", "stand up", "lowering body part", "sideways movement", "move up/down incline",
    "action with ball", "kick", "gesture", "head movements", "jog",
    "grasp object", "waist movements", "lift something", "knee movement", "wave",
    "move something", "swing body part", "catch", "dance", "lean",
    "greet", "poses", "touching face", "sports move", "exercise/training",
    "clean something", "punch", "squat", "scratch", "hop",
    "play sport", "stumble", "crossing limbs", "perform", "martial art",
    # 60-119: BABEL-120
    "balance", "kneel", "shake", "grab body part", "clap",
    "crouch", "spin", "upper body movements", "knock", "adjust",
    "crawl", "twist", "move back to original position", "bow", "hit",
    "touch ground", "shoulder movements", "telephone call", "grab person", "play instrument",
    "tap", "spread", "skip", "rolling movement", "jump rope",
    "play catch", "drink", "evade", "support", "point",
    "side to side movement", "stop", "protect", "wrist movements", "stances",
    "wait", "shuffle", "lunge", "communicate (vocalise)", "jumping jacks",
    "rub", "dribble", "swim", "sneak", "to lower a body part",
    "misc. abstract action", "mix", "limp", "sway", "slide",
    "cartwheel", "press something", "shrug", "open something", "leap",
    "trip", "golf", "move misc. body part", "get injured", "sudden movement",
    # 120-149: BABEL-150
    "duck", "flap", "salute", "stagger", "draw",
    "tie", "eat", "style hair", "relax", "pray",
    "flip", "shivering", "interact with rope", "march", "zombie",
    "check", "wiggle", "bump", "give something", "yoga",
    "mime", "wobble", "release", "wash", "stroke",
    "rocking movement", "swipe", "strafe", "hang", "flail arms",
)  # fmt: skip  # a table, in rows as its source has them

# Number of leading categories in each named BABEL benchmark.
SUBSET_SIZES: dict[str, int] = {"babel60": 60, "babel120": 120, "babel150": 150}

_INDEX: dict[str, int] = {name: i for i, name in enumerate(BABEL_CATEGORIES)}


def category_subset(name: str) -> tuple[str, ...]:
    """Categories of a named BABEL benchmark, in id order.

    Args:
        name: ``'babel60'``, ``'babel120'`` or ``'babel150'``.

    Returns:
        The first 60, 120 or 150 categories; position = BABEL id.

    Raises:
        KeyError: ``name`` is not a known subset.
    """
    try:
        size = SUBSET_SIZES[name]
    except KeyError:
        known = ", ".join(SUBSET_SIZES)
        raise KeyError(f"unknown BABEL category subset {name!r}; known subsets: {known}") from None
    return BABEL_CATEGORIES[:size]


def category_index(name: str) -> int:
    """BABEL id of a category name (exact ``act_cat`` spelling).

    Raises:
        KeyError: ``name`` is not one of BABEL's 150 categories. The message
            suggests close spellings, because BABEL's names have irregular
            spacing and plurals ("interact with/use object", "foot movements").
    """
    try:
        return _INDEX[name]
    except KeyError:
        raise KeyError(_unknown_category_message(name)) from None


def _unknown_category_message(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, BABEL_CATEGORIES, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{name!r} is not one of BABEL's 150 action categories{hint}"

"""BABEL's category list: official order, subsets and lookups."""

from __future__ import annotations

import pytest

from synthact.sources.babel_categories import BABEL_CATEGORIES, category_index, category_subset

# FORMATS.md, "BABEL labels": the first 60 categories, in order.
FIRST_60 = [
    "walk",
    "stand",
    "hand movements",
    "turn",
    "interact with/use object",
    "arm movements",
    "t pose",
    "step",
    "backwards movement",
    "raising body part",
    "look",
    "touch object",
    "leg movements",
    "forward movement",
    "circular movement",
    "stretch",
    "jump",
    "touching body part",
    "sit",
    "place something",
    "take/pick something up",
    "run",
    "bend",
    "throw",
    "foot movements",
    "a pose",
    "stand up",
    "lowering body part",
    "sideways movement",
    "move up/down incline",
    "action with ball",
    "kick",
    "gesture",
    "head movements",
    "jog",
    "grasp object",
    "waist movements",
    "lift something",
    "knee movement",
    "wave",
    "move something",
    "swing body part",
    "catch",
    "dance",
    "lean",
    "greet",
    "poses",
    "touching face",
    "sports move",
    "exercise/training",
    "clean something",
    "punch",
    "squat",
    "scratch",
    "hop",
    "play sport",
    "stumble",
    "crossing limbs",
    "perform",
    "martial art",
]

# FORMATS.md anchors from BABEL's action_label_2_idx.json.
ANCHORS = {
    "kneel": 61,
    "clap": 64,
    "crouch": 65,
    "bow": 73,
    "telephone call": 77,
    "drink": 86,
    "point": 89,
    "jumping jacks": 99,
    "eat": 126,
    "march": 133,
}


def test_there_are_150_distinct_categories() -> None:
    assert len(BABEL_CATEGORIES) == 150
    assert len(set(BABEL_CATEGORIES)) == 150
    assert all(name == name.strip() and name for name in BABEL_CATEGORIES)


def test_first_60_match_formats() -> None:
    assert len(FIRST_60) == 60
    assert BABEL_CATEGORIES[:60] == tuple(FIRST_60)


@pytest.mark.parametrize(("name", "index"), sorted(ANCHORS.items()))
def test_anchor_ids(name: str, index: int) -> None:
    assert BABEL_CATEGORIES[index] == name
    assert category_index(name) == index


def test_last_category() -> None:
    assert category_index("flail arms") == 149


@pytest.mark.parametrize(("subset", "size"), [("babel60", 60), ("babel120", 120), ("babel150", 150)])
def test_subsets_are_prefixes(subset: str, size: int) -> None:
    names = category_subset(subset)
    assert len(names) == size
    assert names == BABEL_CATEGORIES[:size]


def test_babel60_ends_with_martial_art_and_120_with_sudden_movement() -> None:
    assert category_subset("babel60")[-1] == "martial art"
    assert category_subset("babel120")[-1] == "sudden movement"


def test_unknown_subset_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="babel60, babel120, babel150"):
        category_subset("babel90")


def test_unknown_category_suggests_close_spelling() -> None:
    with pytest.raises(KeyError, match="not one of BABEL's 150 action categories") as info:
        category_index("interact with / use object")
    assert "interact with/use object" in str(info.value)


def test_transition_is_not_a_category() -> None:
    # 'transition' is a frequent act_cat in BABEL's labels but has no id.
    with pytest.raises(KeyError):
        category_index("transition")

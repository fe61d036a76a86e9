"""What an export calls one clip-view: NTU's own sample name for NTU runs, else ``<clip_id>_<view>``.

Why: NTU loaders take the action, camera, subject and repetition from the
sample name (``S001C002P003R001A013``), and NTU's own pose pickles key their
samples by it, so synthetic and real samples can be matched or mixed by name
only when ours are named the same way. The rules:

- a take of an NTU-named source keeps its name, with the camera taken from the
  view (``c1`` -> ``C001``); a view of another rig keeps the source's camera and
  is appended (``..._front``), so views never share a name;
- where one source sample still gives several clip-views (render repetitions,
  several clips of one take), each gets ``_rep<k>`` (its render repetition) and,
  if that is not enough, ``_clip<k>`` (its chunk), so the 20-character NTU name
  stays a prefix that loaders parse;
- anything else (non-NTU sources) is ``<clip_id>_<view>``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
_NTU_VIEW = re.compile(r"c(\d{1,3})$")


def ntu_name(source: str, view: str) -> str | None:
    """``S001C002P003R001A013`` for ``source`` seen from ``view``, or None for a non-NTU source."""
    found = _NTU_NAME.search(Path(source).name)
    if not found:
        return None
    s, c, p, r, a = found.groups()
    cam = _NTU_VIEW.match(view)
    name = f"S{s}C{int(cam.group(1)) if cam else int(c):03d}P{p}R{r}A{a}"
    return name if cam else f"{name}_{view}"


def sample_names(items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(clip_id, view) -> sample name; items carry clip_id, view, source, repetition and chunk."""
    base = {(i["clip_id"], i["view"]): ntu_name(str(i["source"]), i["view"]) for i in items}
    by_key = {(i["clip_id"], i["view"]): i for i in items}
    names = _disambiguate(base, by_key, lambda i: f"_rep{int(i.get('repetition', 0))}")
    names = _disambiguate(names, by_key, lambda i: f"_clip{int(i.get('chunk', 0))}")
    counts = Counter(names.values())
    return {key: (n if n and counts[n] == 1 else f"{key[0]}_{key[1]}") for key, n in names.items()}


def _disambiguate(
    names: Mapping[tuple[str, str], str | None], items: Mapping[tuple[str, str], Mapping[str, Any]], suffix: Any
) -> dict[tuple[str, str], str | None]:
    """Append ``suffix(item)`` to every name that more than one clip-view shares."""
    counts = Counter(n for n in names.values() if n)
    return {key: (n + suffix(items[key]) if n and counts[n] > 1 else n) for key, n in names.items()}

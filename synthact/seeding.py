"""Seeds derived from identity, never from time or run order.

Every random draw in SynthAct (camera, body appearance, lighting) takes its
seed from a hash of the global seed and the identity of what is drawn (clip
id, view name, purpose). A clip therefore renders the same whatever its shard,
its position in a shard, or the machine.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(global_seed: int, *identity: object) -> int:
    """A 63-bit seed from the global seed and an identity tuple."""
    text = "|".join([str(int(global_seed)), *(str(part) for part in identity)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def rng_for(global_seed: int, *identity: object) -> np.random.Generator:
    """A numpy Generator seeded from ``derive_seed``."""
    return np.random.default_rng(derive_seed(global_seed, *identity))

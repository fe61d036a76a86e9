"""The apartment-like room of the Smarthome preset, as plain data (no bpy).

Room coordinates: metres, Z up, origin on the floor at the room's centre. The
renderer moves the room so that this origin lies under the clip's path centre,
and the ``room`` rig mode places cameras in the same coordinates, so a camera
position written in a preset is a position in this room.

Furniture stands along the walls and leaves the middle free: an actor whose
path stays within ``FREE_RADIUS_M`` of the centre never walks through it.
"""

from __future__ import annotations

from dataclasses import dataclass

ROOM_SIZE_M = (7.0, 6.0)  # inner size along X and Y
WALL_HEIGHT_M = 2.8
WALL_THICKNESS_M = 0.1
FREE_RADIUS_M = 1.8  # around the centre, no furniture
MATERIALS = ("wall", "wood", "fabric", "counter")


@dataclass(frozen=True)
class Block:
    """An axis-aligned box of the room.

    Attributes:
        name: Object name in the scene.
        centre: Box centre, room coordinates.
        size: Full extent along X, Y, Z.
        material: One of ``MATERIALS``.
    """

    name: str
    centre: tuple[float, float, float]
    size: tuple[float, float, float]
    material: str


def _walls() -> list[Block]:
    hx, hy = ROOM_SIZE_M[0] / 2, ROOM_SIZE_M[1] / 2
    t, h = WALL_THICKNESS_M, WALL_HEIGHT_M
    span_x, span_y = ROOM_SIZE_M[0] + 2 * t, ROOM_SIZE_M[1]
    return [
        Block("wall_south", (0.0, -hy - t / 2, h / 2), (span_x, t, h), "wall"),
        Block("wall_north", (0.0, hy + t / 2, h / 2), (span_x, t, h), "wall"),
        Block("wall_west", (-hx - t / 2, 0.0, h / 2), (t, span_y, h), "wall"),
        Block("wall_east", (hx + t / 2, 0.0, h / 2), (t, span_y, h), "wall"),
    ]


# Furniture: (name, centre XY, size XYZ, material); each stands on the floor.
_FURNITURE = (
    ("kitchen_counter", (1.3, 2.7), (2.4, 0.6, 0.9), "counter"),
    ("kitchen_cabinet", (1.3, 2.83), (2.4, 0.34, 0.7), "counter"),  # lifted below: wall cabinet
    ("sofa_seat", (-1.7, -2.55), (2.0, 0.85, 0.45), "fabric"),
    ("sofa_back", (-1.7, -2.88), (2.0, 0.2, 0.85), "fabric"),
    ("table", (2.3, -1.7), (1.2, 0.8, 0.75), "wood"),
    ("shelf", (-3.3, 0.9), (0.35, 1.2, 1.9), "wood"),
    ("tv_stand", (3.25, 1.2), (0.45, 1.4, 0.5), "wood"),
)
_LIFTED = {"kitchen_cabinet": 1.5}  # height of the box's bottom above the floor


def room_blocks() -> tuple[Block, ...]:
    """Walls and furniture, in room coordinates."""
    furniture = [
        Block(name, (x, y, _LIFTED.get(name, 0.0) + size[2] / 2), size, material)
        for name, (x, y), size, material in _FURNITURE
    ]
    return tuple(_walls() + furniture)


def ceiling_lights() -> tuple[tuple[float, float, float], ...]:
    """Centres of the square ceiling lights, room coordinates."""
    z = WALL_HEIGHT_M - 0.02
    return ((-1.5, 0.0, z), (1.5, 0.0, z))


CEILING_LIGHT_SIZE_M = 1.0


def inside_room(x: float, y: float, margin: float = 0.0) -> bool:
    """Whether room point (x, y) is inside the walls, ``margin`` away from them."""
    hx, hy = ROOM_SIZE_M[0] / 2 - margin, ROOM_SIZE_M[1] / 2 - margin
    return -hx <= x <= hx and -hy <= y <= hy

"""The scene without Blender: cameras, framing, room, appearance, clothing textures, the rig's camera paths."""

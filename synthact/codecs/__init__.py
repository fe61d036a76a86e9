"""Codecs between rendered arrays and what a shard stores (docs/FORMAT.md, Encodings).

Pure functions over numpy arrays and bytes; where the results go in the
HDF5 file is the shard writer's business. One module per modality:

- ``depth``: metres <-> uint16 codes, exact to 1 mm up to 60 m, a log band
  beyond (the far ground plane), 0 = no surface; stored (v2) in 2 mm steps on the
  person, a 0.1 % grid off it, rows as differences.
- ``normals``: unit vectors <-> octahedral 2 x uint8 or 2 x uint16, 0 = no surface;
  stored (v2) as the codes of (x, y, -z), planar residuals.
- ``predict``: integer images <-> zigzagged differences to their neighbours.
- ``chunks``: one frame as the compressed HDF5 chunk the shard stores.
- ``video``: RGB frames <-> an H.264 / AV1 / JPEG bitstream with a keyframe
  index, so any window of frames decodes from the bytes without the rest.
- ``storage``: the HDF5 filter and chunk settings for the lossless images.
"""

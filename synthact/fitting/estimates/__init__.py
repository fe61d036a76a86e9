"""Motion from any video: SMPL-family sequences of 3D pose estimators as a motion source.

``motion.source: estimates`` reads the outputs of WHAM, GVHMR, 4D-Humans/PHALP, VIBE,
TRAM and SLAHMR exactly as those tools write them (one adapter module each), turns
every chosen track into an AMASS SMPL+H motion (``conversion``, ``body_shape``) and
labels it the BABEL way (``labels``), so the index, renderer and merge run unchanged.
``stage`` is the pipeline stage; docs/MOTION-FROM-VIDEO.md is the user's guide.
"""

"""SynthAct: synthetic multi-view human-action datasets from motion capture."""

__version__ = "0.1.0"

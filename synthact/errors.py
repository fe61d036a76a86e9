"""The one base class of SynthAct's own errors.

Every error that SynthAct raises on purpose for bad input, a bad config or a
failed stage inherits :class:`SynthActError`, so the CLI can turn all of them
into one line for the user with a single ``except``, and nothing has to find
them by name. Each also keeps the built-in base it had before
(``ValueError``, ``RuntimeError``, ``FileNotFoundError``), so code that
catches those still works.
"""

from __future__ import annotations


class SynthActError(Exception):
    """An error whose message is complete for the user: it names the file or key and the problem."""

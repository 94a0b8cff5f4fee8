"""Errors that autometa reports to users.

Every user-facing entry point turns bad input into an :class:`InputError` whose message is one clear
sentence: which file or column, what is wrong, and what to do. The CLI prints that sentence and exits
with code 2; from Python it is an ordinary exception (a ``ValueError``), so notebooks see it as such.
"""

from __future__ import annotations


class AutometaError(Exception):
    """Base class of autometa's own errors."""


class InputError(AutometaError, ValueError):
    """The user's input (a file, a column, an option) cannot be used; the message says why and what to do."""


class ArtifactError(AutometaError):
    """A stored artifact (knowledge base, model cache, checkpoint) is missing, stale or foreign."""


class StaleArtifactError(ArtifactError):
    """A stored artifact of the right kind but another format version (rebuilt or refused, never misread)."""

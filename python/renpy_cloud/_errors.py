"""Pure-Python exception classes, used only where the compiled extension (which defines the
same names) cannot be loaded. Each has ``code`` and ``transient`` attributes."""

from __future__ import annotations


class RenpyCloudError(Exception):
    """Base of every renpy_cloud error."""

    code = "error"
    transient = False


class SettingsError(RenpyCloudError):
    """A setting or argument cannot work."""


class AuthError(RenpyCloudError):
    """Not signed in, wrong password or a revoked session."""


class NetworkError(RenpyCloudError):
    """The server could not be reached, timed out or failed (5xx)."""


class ServerError(RenpyCloudError):
    """The server refused the request (4xx, quota)."""


class LocalError(RenpyCloudError):
    """The save folder, the profile or the sync state failed."""

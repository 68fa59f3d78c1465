"""The shapes the clients return (plain dicts, typed for editors and checkers)."""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional

try:
    from typing import TypedDict
except ImportError:  # pragma: no cover - Python < 3.8 is not supported by Ren'Py 8
    TypedDict = dict  # type: ignore[misc,assignment]

POLICIES = ("keep-both", "newest", "most-progress", "local", "remote", "manual")


class ErrorInfo(TypedDict):
    code: str
    message: str
    #: settings, auth, network, server or local
    class_: str
    transient: bool


class Progress(TypedDict):
    phase: str
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


class Status(TypedDict):
    signed_in: bool
    username: Optional[str]
    device_id: Optional[str]
    running: bool
    syncing: bool
    progress: Optional[Progress]
    last_sync: Optional[float]
    last_attempt: Optional[float]
    last_error: Optional[Dict[str, Any]]
    offline: bool
    next_sync_in: Optional[float]
    pending_uploads: List[str]
    pending_conflicts: List[str]
    syncs: int
    peer_keys: List[str]
    keys_error: Optional[Dict[str, Any]]
    #: The server has answered this client; None: cannot tell yet (the CLI client, until
    #: its first sync finishes).
    reached_server: Optional[bool]


class SyncResult(TypedDict):
    ok: bool
    finished_at: float
    #: uploaded, downloaded, deleted_local, deleted_remote, conflicts, pending_manual, ...
    report: Optional[Dict[str, Any]]
    error: Optional[Dict[str, Any]]


class Account(TypedDict):
    server: str
    username: str
    user_id: str
    device_id: str
    device_name: str


class PairingCode(TypedDict):
    code: str
    expires_at: int


class ConflictSide(TypedDict):
    sha256: str
    size: int
    mtime: Optional[int]
    version: Optional[int]
    device_id: Optional[str]
    device_name: Optional[str]
    deleted: bool
    #: save_name, ctime, game_runtime, version, renpy_version, extra, has_screenshot
    meta: Optional[Dict[str, Any]]


class HistoryVersion(TypedDict):
    version: int
    sha256: str
    size: int
    device_id: str
    deleted: bool
    archived: bool
    current: bool
    mtime: Optional[int]
    committed_at: int
    meta: Optional[Dict[str, Any]]


class Conflict(NamedTuple):
    """A conflict waiting for the player; a side of ``None`` deleted the file."""

    path: str
    local: Optional[ConflictSide]
    remote: Optional[ConflictSide]
    #: PNG bytes of each side's screenshot, when the save has one (and could be fetched).
    local_screenshot: Optional[bytes]
    remote_screenshot: Optional[bytes]

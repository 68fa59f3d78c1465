"""Cloud saves for desktop Ren'Py games.

``renpy_cloud.Client`` keeps one game's save folder in sync with a renpy-cloud server:
sign-up / login / pairing, a background worker (``start()`` / ``stop()``), ``status()`` that
is safe to call every frame, conflicts with both sides' metadata and screenshots,
``resolve()``, ``history()`` and ``restore()``.

Two interchangeable implementations:

- ``NativeClient`` (the default ``Client``): the Rust sync engine in the compiled extension
  ``renpy_cloud._native`` (abi3, CPython 3.9+). Blocking work releases the GIL.
- ``CliClient``: drives the ``renpy-cloud`` command-line program with ``--json`` in a
  subprocess, for where the extension cannot be loaded. Same methods, same return shapes
  (conflict screenshots: local side only).

``open_client()`` picks the native one when it loads and falls back to the CLI otherwise.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from ._types import (
    POLICIES,
    Account,
    Conflict,
    ConflictSide,
    HistoryVersion,
    PairingCode,
    Status,
    SyncResult,
)

try:
    from . import _native

    NATIVE_AVAILABLE = True
    NATIVE_IMPORT_ERROR: Optional[str] = None
    from ._native import (  # noqa: F401  (re-exported)
        AuthError,
        LocalError,
        NetworkError,
        RenpyCloudError,
        ServerError,
        SettingsError,
    )
except ImportError as e:  # pragma: no cover - exercised where the extension is missing
    _native = None  # type: ignore[assignment]
    NATIVE_AVAILABLE = False
    NATIVE_IMPORT_ERROR = "{}: {}".format(type(e).__name__, e)
    from ._errors import (  # noqa: F401  (re-exported)
        AuthError,
        LocalError,
        NetworkError,
        RenpyCloudError,
        ServerError,
        SettingsError,
    )

from ._cli import CliClient  # noqa: E402  (needs the exception classes above)

__all__ = [
    "POLICIES",
    "NATIVE_AVAILABLE",
    "NATIVE_IMPORT_ERROR",
    "Account",
    "AuthError",
    "CliClient",
    "Client",
    "Conflict",
    "ConflictSide",
    "HistoryVersion",
    "LocalError",
    "NativeClient",
    "NetworkError",
    "PairingCode",
    "RenpyCloudError",
    "ServerError",
    "SettingsError",
    "Status",
    "SyncResult",
    "open_client",
]

__version__ = "0.1.0"


class NativeClient:
    """One game's save folder on one server, synced by the compiled engine.

    Settings are checked here: a bad one raises ``SettingsError`` naming it.

    :param server: server URL, ``http://`` or ``https://``.
    :param game: the game id, normally ``config.save_directory``.
    :param save_dir: the save folder, normally ``config.savedir``.
    :param game_dir: the game's ``game/`` folder, normally ``config.gamedir``. Ren'Py keeps
        a second copy of every save in ``<game_dir>/saves`` and shows the newest copy, so
        downloads and deletions go there too, and another device's ``persistent`` is left
        there for Ren'Py to merge field by field.
    :param tokens_dir: Ren'Py's save-token folder (``renpy.savetoken.token_dir``, 8.1+).
        Before its syncs download anything, the client publishes this computer's keys and
        appends the player's other devices' keys to ``security_keys.txt`` (never creating
        it); ``status()["peer_keys"]`` lists them for the running game to trust.
    :param policy: conflict policy, one of ``POLICIES``.
    :param device_name: shown to the player in conflicts and history.
    :param profile: file keeping the signed-in session; default: the one the ``renpy-cloud``
        command line uses, so a player signs in once per computer and server.
    :param interval: seconds between background syncs (at least 5).
    :param timeout: seconds before a silent server counts as offline (at least 0.5).
    """

    def __init__(
        self,
        server: str,
        game: str,
        save_dir: str,
        *,
        game_dir: Optional[str] = None,
        tokens_dir: Optional[str] = None,
        policy: str = "keep-both",
        device_name: Optional[str] = None,
        profile: Optional[str] = None,
        interval: float = 60.0,
        timeout: float = 30.0,
    ) -> None:
        if _native is None:
            raise RenpyCloudError(
                "the compiled renpy_cloud extension is not available here ({}); "
                "use CliClient".format(NATIVE_IMPORT_ERROR)
            )
        self._c = _native.Client(
            str(server),
            str(game),
            str(save_dir),
            game_dir=_path_or_none(game_dir),
            tokens_dir=_path_or_none(tokens_dir),
            policy=policy,
            device_name=device_name,
            profile=None if profile is None else str(profile),
            interval=float(interval),
            timeout=float(timeout),
        )

    kind = "native"

    # Accounts ---------------------------------------------------------------------------
    def signup(self, username: str, password: str) -> Account:
        """Creates the account and signs this device in."""
        return json.loads(self._c.signup(username, password))

    def login(self, username: str, password: str) -> Account:
        return json.loads(self._c.login(username, password))

    def pair(self, code: str) -> Account:
        """Signs this device in with a code shown by a signed-in device."""
        return json.loads(self._c.pair(code))

    def pairing_code(self) -> PairingCode:
        """A single-use code for signing in another device."""
        return json.loads(self._c.pairing_code())

    def devices(self) -> List[Dict[str, Any]]:
        return json.loads(self._c.devices())["devices"]

    def logout(self) -> None:
        """Signs out here, and on the server when it can be reached."""
        self._c.logout()

    # Syncing ----------------------------------------------------------------------------
    def sync_now(self) -> SyncResult:
        """One sync on this thread (GIL released). Never raises for sync failures."""
        return json.loads(self._c.sync_now())

    def request_sync(self) -> None:
        """Asks the background worker for a sync soon; returns at once."""
        self._c.request_sync()

    def saved(self) -> None:
        """Tells the worker the game just saved (it notices saves by itself too)."""
        self._c.saved()

    def start(self, wait: Optional[float] = None) -> bool:
        """Starts the background worker: a sync now, then after saves and every
        ``interval`` seconds. With ``wait``, waits up to that many seconds for the first
        sync and returns whether it finished (it carries on either way)."""
        return self._c.start(None if wait is None else float(wait))

    def stop(self) -> None:
        """Stops the worker after its current sync and waits for it."""
        self._c.stop()

    def shutdown(self, deadline: float = 1.5) -> bool:
        """For quitting: stops the worker without waiting for a sync in flight and runs one
        last sync for at most ``deadline`` seconds. Returns whether it finished; never
        raises. A sync cut short by the process exiting is safe and resumes next time."""
        try:
            return self._c.shutdown(float(deadline))
        except Exception:  # noqa: BLE001 - quitting must never fail
            return False

    def status(self) -> Status:
        """The current status, from memory (cheap enough for every frame)."""
        return json.loads(self._c.status())

    def take_results(self) -> List[SyncResult]:
        """Syncs finished since the last call, oldest first."""
        return json.loads(self._c.take_results())

    def set_policy(self, policy: str) -> None:
        self._c.set_policy(policy)

    # Conflicts and history --------------------------------------------------------------
    def conflicts(self) -> List[Conflict]:
        """Conflicts waiting for the player, both sides with metadata and screenshots."""
        out = []
        for text, local_png, remote_png in self._c.conflicts():
            view = json.loads(text)
            out.append(
                Conflict(
                    path=view["path"],
                    local=view["local"],
                    remote=view["remote"],
                    local_screenshot=local_png,
                    remote_screenshot=remote_png,
                )
            )
        return out

    def resolve(self, path: str, keep: str) -> None:
        """Decides a conflict: ``keep`` is ``"local"``, ``"remote"`` or ``"both"``."""
        self._c.resolve(path, keep)

    def history(self, path: str) -> List[HistoryVersion]:
        """Every stored version of a file, newest first."""
        return json.loads(self._c.history(path))["versions"]

    def restore(self, path: str, version: int) -> Dict[str, Any]:
        """Makes an old version current again and syncs it here; returns the report."""
        return json.loads(self._c.restore(path, int(version)))

    def settings(self) -> Dict[str, Any]:
        return json.loads(self._c.settings())

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> "NativeClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


Client = NativeClient


def _path_or_none(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def open_client(
    server: str,
    game: str,
    save_dir: str,
    cli: Optional[str] = None,
    prefer_cli: bool = False,
    **settings: Any,
) -> Tuple[Any, str]:
    """The native client when the extension loads, else the CLI driver (``cli`` is the
    ``renpy-cloud`` executable). Returns ``(client, kind)`` with kind ``"native"`` or
    ``"cli"``."""
    if NATIVE_AVAILABLE and not prefer_cli:
        return NativeClient(server, game, save_dir, **settings), "native"
    if not cli:
        raise RenpyCloudError(
            "the compiled extension is not available ({}) and no renpy-cloud program "
            "was given".format(NATIVE_IMPORT_ERROR)
        )
    return CliClient(cli, server, game, save_dir, **settings), "cli"

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
    "merge_security_keys",
    "open_client",
]

__version__ = "0.1.0"


class NativeClient:
    """One game's save folder on one server, synced by the compiled engine.

    Settings are checked here: a bad one raises ``SettingsError`` naming it.

    :param server: server URL, ``http://`` or ``https://``.
    :param game: the game id, normally ``config.save_directory``.
    :param save_dir: the save folder, normally ``config.savedir``.
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

    def start(self) -> None:
        """Starts the background worker: a sync now, then every ``interval`` seconds."""
        self._c.start()

    def stop(self) -> None:
        """Stops the worker after its current sync."""
        self._c.stop()

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

    # Save-token trust -------------------------------------------------------------------
    def set_device_keys(self, keys: List[str], tokens_dir: Optional[str] = None) -> None:
        """This device's save-token keys (``renpy.get_save_token_keys()``); the worker
        publishes them and trusts the account's other devices' keys in ``tokens_dir``."""
        self._c.set_device_keys(list(keys), None if tokens_dir is None else str(tokens_dir))

    def exchange_device_keys(self, keys: List[str], tokens_dir: Optional[str] = None) -> List[str]:
        """Publishes ``keys`` now; returns (and trusts in ``tokens_dir``) the others' keys."""
        return self._c.exchange_device_keys(
            list(keys), None if tokens_dir is None else str(tokens_dir)
        )

    def settings(self) -> Dict[str, Any]:
        return json.loads(self._c.settings())

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> "NativeClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


Client = NativeClient


def merge_security_keys(tokens_dir: str, keys: List[str]) -> List[str]:
    """Appends ``verifying-key`` lines for ``keys`` to ``<tokens_dir>/security_keys.txt``
    unless already trusted; never removes a line. Returns the keys added."""
    if _native is not None:
        return _native.merge_security_keys(str(tokens_dir), list(keys))
    from ._keys import merge_security_keys as pure

    return pure(str(tokens_dir), list(keys))


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

"""``CliClient``: the same API as ``NativeClient``, driving the ``renpy-cloud`` program with
``--json`` in a subprocess. For Ren'Py builds where the compiled extension cannot be loaded.

The sync logic stays in the program (including Ren'Py's save locations with
``--game-dir`` and save-token trust with ``--tokens-dir``); this file only runs it, parses
its JSON, keeps a status and runs a background thread that notices saves and retries with
backoff.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional

import renpy_cloud as _pkg

from ._types import POLICIES, Conflict

_GAME_ID = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9._\-]{0,127}$")
EXIT_CONFLICTS_WAITING = 3
FIRST_RETRY = 1.0
MAX_RESULTS = 32
#: Seconds between looks at the save folder for new saves, and between save-driven syncs.
WATCH_EVERY = 2.0
MIN_GAP = 5.0


def _error(code: str, message: str, klass: str = "local", transient: bool = False) -> Exception:
    """The exception for an error of the program's vocabulary: ``class`` and ``transient``
    come from its ``--json`` error body (sync_core's ClientError), so this file keeps no
    table of codes."""
    cls = {
        "settings": _pkg.SettingsError,
        "auth": _pkg.AuthError,
        "network": _pkg.NetworkError,
        "server": _pkg.ServerError,
    }.get(klass, _pkg.LocalError)
    err = cls(message)
    err.code = code
    err.transient = bool(transient)
    return err


def _error_info(e: Exception) -> Dict[str, Any]:
    code = getattr(e, "code", "internal")
    classes = [
        (_pkg.SettingsError, "settings"),
        (_pkg.AuthError, "auth"),
        (_pkg.NetworkError, "network"),
        (_pkg.ServerError, "server"),
    ]
    kind = next((name for cls, name in classes if isinstance(e, cls)), "local")
    return {
        "code": code,
        "message": str(e),
        "class": kind,
        "transient": bool(getattr(e, "transient", False)),
    }


def _settings_error(setting: str, message: str) -> Exception:
    return _error("bad_setting", "{}: {}".format(setting, message), "settings")


class CliClient:
    """Like ``NativeClient``; ``cli`` is the path of the ``renpy-cloud`` executable."""

    kind = "cli"

    def __init__(
        self,
        cli: str,
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
        server = str(server).strip().rstrip("/")
        if not re.match(r"^https?://\S+$", server):
            raise _settings_error("server", "must start with http:// or https://, got {!r}".format(server))
        if not _GAME_ID.match(str(game)):
            raise _settings_error("game", "{!r} is not a valid game id".format(game))
        if not str(save_dir):
            raise _settings_error("save_dir", "must not be empty")
        if os.path.exists(save_dir) and not os.path.isdir(save_dir):
            raise _settings_error("save_dir", "{} exists and is not a folder".format(save_dir))
        if game_dir is not None and not os.path.isdir(str(game_dir)):
            raise _settings_error("game_dir", "{} is not a folder".format(game_dir))
        if policy not in POLICIES:
            raise _settings_error("policy", "unknown conflict policy {!r}".format(policy))
        if device_name is not None and not device_name.strip():
            raise _settings_error("device_name", "must not be blank")
        if not (interval == interval and interval >= 5.0):
            raise _settings_error("interval", "must be at least 5 seconds, got {}".format(interval))
        if not (timeout == timeout and timeout >= 0.5):
            raise _settings_error("timeout", "must be at least 0.5 seconds, got {}".format(timeout))
        if not (os.path.isfile(cli) and os.access(cli, os.X_OK)):
            raise _settings_error("cli", "{} is not an executable renpy-cloud program".format(cli))
        self.cli = cli
        self.server = server
        self.game = str(game)
        self.save_dir = str(save_dir)
        self.game_dir = None if game_dir is None else str(game_dir)
        self.tokens_dir = None if tokens_dir is None else str(tokens_dir)
        self.policy = policy
        self.device_name = device_name.strip() if device_name else "Ren'Py game"
        self.profile = profile
        self.interval = float(interval)
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._last_start = 0.0
        self._seen: Optional[List[Any]] = None
        self._results: List[Dict[str, Any]] = []
        self._status: Dict[str, Any] = {
            "signed_in": False,
            "username": None,
            "device_id": None,
            "running": False,
            "syncing": False,
            "progress": None,
            "last_sync": None,
            "last_attempt": None,
            "last_error": None,
            "offline": False,
            "next_sync_in": None,
            "pending_uploads": [],
            "pending_conflicts": [],
            "syncs": 0,
            "peer_keys": [],
            "keys_error": None,
            # The program answers only when its whole sync is done: nothing to tell before.
            "reached_server": None,
        }
        self._refresh_local()

    # Running the program ----------------------------------------------------------------
    def _argv(self, args: List[str]) -> List[str]:
        argv = [self.cli, "--server", self.server, "--json", "--device-name", self.device_name]
        if self.profile:
            argv += ["--profile", str(self.profile)]
        return argv + args

    def _run(self, args: List[str], budget: float) -> Any:
        argv = self._argv(args)
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=budget,
                # No console window for the child on Windows.
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except subprocess.TimeoutExpired:
            raise _error("timeout", "renpy-cloud did not finish within {:.0f} s".format(budget), "network", True)
        except OSError as e:
            raise _error("internal", "cannot run {}: {}".format(self.cli, e))
        try:
            answer = json.loads(done.stdout.decode("utf-8") or "null")
        except ValueError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            err = answer["error"]
            raise _error(
                str(err.get("code", "internal")),
                str(err.get("message", "")),
                str(err.get("class", "local")),
                bool(err.get("transient", False)),
            )
        if done.returncode not in (0, EXIT_CONFLICTS_WAITING) or answer is None:
            tail = done.stderr.decode("utf-8", "replace").strip()[-500:]
            raise _error("internal", "renpy-cloud failed ({}): {}".format(done.returncode, tail))
        return answer

    def _game_args(self) -> List[str]:
        args = ["--game", self.game, "--dir", self.save_dir, "--policy", self.policy]
        if self.game_dir:
            args += ["--game-dir", self.game_dir]
        if self.tokens_dir:
            args += ["--tokens-dir", self.tokens_dir]
        return args

    def _short(self) -> float:
        return max(self.timeout * 2.0, 5.0)

    def _long(self) -> float:
        return max(self.timeout * 4.0, 10.0)

    # Accounts ---------------------------------------------------------------------------
    def _signed_in(self, answer: Dict[str, Any]) -> Dict[str, Any]:
        with self._lock:
            self._status.update(signed_in=True, username=answer.get("username"), device_id=answer.get("device_id"))
        self._wake.set()
        return answer

    def signup(self, username: str, password: str) -> Dict[str, Any]:
        return self._signed_in(self._run(["signup", "--user", username, "--password", password], self._short()))

    def login(self, username: str, password: str) -> Dict[str, Any]:
        return self._signed_in(self._run(["login", "--user", username, "--password", password], self._short()))

    def pair(self, code: str) -> Dict[str, Any]:
        return self._signed_in(self._run(["pair", "--code", code.strip()], self._short()))

    def pairing_code(self) -> Dict[str, Any]:
        return self._run(["pair"], self._short())

    def devices(self) -> List[Dict[str, Any]]:
        return self._run(["devices"], self._short())["devices"]

    def logout(self) -> None:
        try:
            self._run(["logout"], self._short())
        finally:
            with self._lock:
                self._status.update(signed_in=False, username=None, device_id=None)

    # Syncing ----------------------------------------------------------------------------
    def sync_now(self) -> Dict[str, Any]:
        """One sync in a subprocess. Never raises for sync failures."""
        with self._sync_lock:
            with self._lock:
                self._status.update(syncing=True, progress=None)
            self._seen = _folder_signature(self.save_dir)
            self._last_start = time.monotonic()
            try:
                report = self._run(["sync"] + self._game_args(), self._long())
                self._note_keys(report)
                result = {"ok": True, "finished_at": time.time(), "report": report, "error": None}
            except Exception as e:  # noqa: BLE001 - every failure becomes status
                result = {"ok": False, "finished_at": time.time(), "report": None, "error": _error_info(e)}
            self._refresh_local()
            with self._lock:
                s = self._status
                s.update(syncing=False, last_attempt=result["finished_at"])
                if result["ok"]:
                    s.update(last_sync=result["finished_at"], last_error=None, offline=False, syncs=s["syncs"] + 1,
                             reached_server=True)
                else:
                    s.update(last_error=result["error"], offline=result["error"]["transient"])
                self._results.append(result)
                del self._results[:-MAX_RESULTS]
            return result

    def _note_keys(self, report: Dict[str, Any]) -> None:
        """The program's save-token key exchange, for the game to trust in this session."""
        keys = report.get("device_keys") or {}
        with self._lock:
            for k in keys.get("peers") or []:
                if k not in self._status["peer_keys"]:
                    self._status["peer_keys"].append(k)
            problem = report.get("device_keys_error")
            self._status["keys_error"] = (
                {"code": "device_keys", "message": str(problem), "class": "network", "transient": True}
                if problem
                else None
            )

    def _refresh_local(self) -> None:
        """Pending uploads, conflicts and sign-in state from ``status --json``."""
        if not os.path.isdir(self.save_dir):
            return
        try:
            local = self._run(["status"] + self._game_args(), self._short())
        except Exception:  # noqa: BLE001 - status stays as it was
            return
        with self._lock:
            self._status.update(
                signed_in=bool(local.get("signed_in")),
                pending_uploads=list(local.get("pending_uploads") or []),
                pending_conflicts=list(local.get("pending_conflicts") or []),
            )

    def request_sync(self) -> None:
        self._wake.set()

    def saved(self) -> None:
        self._wake.set()

    def start(self, wait: Optional[float] = None) -> bool:
        before = self._status.get("last_attempt")
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._wake.set()
            with self._lock:
                self._status["running"] = True
            self._thread = threading.Thread(target=self._loop, name="renpy-cloud-cli-sync", daemon=True)
            self._thread.start()
        if not wait:
            return False
        deadline = time.monotonic() + float(wait)
        while time.monotonic() < deadline:
            with self._lock:
                done = self._status["last_attempt"] not in (None, before) and not self._status["syncing"]
            if done:
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        with self._lock:
            self._status.update(running=False, next_sync_in=None)

    def shutdown(self, deadline: float = 1.5) -> bool:
        """For quitting: stops the background thread without waiting, then starts one last
        ``sync`` in its own process and waits at most ``deadline`` seconds for it. A sync
        still running then finishes after the game has closed (it is bounded by the
        program's own timeouts). Never raises."""
        self._stop.set()
        self._wake.set()
        self._thread = None
        with self._lock:
            self._status.update(running=False, next_sync_in=None)
            skip = not self._status["signed_in"] or self._status["offline"] or self._status["syncing"]
        if skip:
            return False
        try:
            proc = subprocess.Popen(
                self._argv(["sync"] + self._game_args()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Outlives the game without a console window or the game's signals.
                start_new_session=os.name != "nt",
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
            proc.wait(timeout=max(0.0, float(deadline)))
            return proc.returncode in (0, EXIT_CONFLICTS_WAITING)
        except Exception:  # noqa: BLE001 - quitting must never fail
            return False

    def _loop(self) -> None:
        failures = 0
        next_at = time.monotonic()
        while True:
            while not self._stop.is_set():
                wait = next_at - time.monotonic()
                if self._wake.is_set() or wait <= 0:
                    break
                with self._lock:
                    self._status["next_sync_in"] = wait
                self._wake.wait(min(wait, WATCH_EVERY))
                if failures == 0 and self._saved_since_last_sync():
                    # A save: sync soon, at most one save-driven sync per MIN_GAP.
                    next_at = min(next_at, max(time.monotonic(), self._last_start + MIN_GAP))
            if self._stop.is_set():
                return
            self._wake.clear()
            with self._lock:
                self._status["next_sync_in"] = None
            result = self.sync_now()
            error = result["error"]
            if error is None:
                failures = 0
                delay = self.interval
            elif error["transient"]:
                failures += 1
                delay = min(FIRST_RETRY * (2 ** min(failures - 1, 16)), self.interval)
            else:
                delay = self.interval
            next_at = time.monotonic() + delay

    def _saved_since_last_sync(self) -> bool:
        now = _folder_signature(self.save_dir)
        changed = now is not None and self._seen is not None and now != self._seen
        if now is not None:
            self._seen = now
        return changed

    def status(self) -> Dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._status))

    def take_results(self) -> List[Dict[str, Any]]:
        with self._lock:
            out, self._results = self._results, []
        return out

    def set_policy(self, policy: str) -> None:
        if policy not in POLICIES:
            raise _settings_error("policy", "unknown conflict policy {!r}".format(policy))
        self.policy = policy

    # Conflicts and history --------------------------------------------------------------
    def conflicts(self) -> List[Conflict]:
        answer = self._run(["conflicts"] + self._game_args(), self._long())
        return [
            Conflict(row["path"], row.get("local"), row.get("remote"),
                     _png(row.get("local_screenshot")), _png(row.get("remote_screenshot")))
            for row in answer.get("conflicts") or []
        ]

    def resolve(self, path: str, keep: str) -> None:
        if keep not in ("local", "remote", "both"):
            raise _error("usage", "keep: expected local, remote or both, got {!r}".format(keep), "settings")
        self._run(["resolve"] + self._game_args() + [path, "--keep", keep], self._short())
        self._wake.set()

    def history(self, path: str) -> List[Dict[str, Any]]:
        return self._run(["history"] + self._game_args() + [path], self._short())["versions"]

    def restore(self, path: str, version: int) -> Dict[str, Any]:
        with self._sync_lock:
            return self._run(["restore"] + self._game_args() + [path, "--version", str(int(version))], self._long())

    def settings(self) -> Dict[str, Any]:
        return {
            "server": self.server,
            "game": self.game,
            "save_dir": self.save_dir,
            "game_dir": self.game_dir,
            "tokens_dir": self.tokens_dir,
            "policy": self.policy,
            "device_name": self.device_name,
            "profile": self.profile,
            "interval": self.interval,
            "timeout": self.timeout,
            "cli": self.cli,
        }

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> "CliClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _folder_signature(save_dir: str) -> Optional[List[Any]]:
    """Names, sizes and mtimes of the save folder's top-level files (where Ren'Py saves)."""
    try:
        with os.scandir(save_dir) as entries:
            out = []
            for e in entries:
                if e.is_file():
                    st = e.stat()
                    out.append((e.name, st.st_size, st.st_mtime_ns))
    except OSError:
        return None
    out.sort()
    return out


def _png(encoded: Optional[str]) -> Optional[bytes]:
    """A screenshot from the program's JSON (base64 PNG)."""
    return base64.b64decode(encoded) if encoded else None

"""The real renpy-cloud-server and CLI, as the devices of one player use them.

The server is python/tests/support.py's (the real binary on 127.0.0.1, port 0);
the binaries come from RENPY_CLOUD_SERVER_BIN / RENPY_CLOUD_CLI_BIN, default
`<checkout>/target/debug/…`.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

from .device import Device

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO / "python" / "tests"))

from support import Server, cli_binary, server_binary  # noqa: E402,F401

_users = itertools.count()
PASSWORD = "correct horse battery staple"


class CliFailed(AssertionError):
    pass


class Cli:
    """`renpy-cloud` for one device: its own --profile file and device name;
    sync/history/restore act on that device's save folder."""

    def __init__(self, server_url: str, device: Device) -> None:
        self.server_url = server_url
        self.device = device
        self.profile = device.dir / "profile.json"

    def __call__(self, *args: str, check: bool = True) -> Dict[str, Any]:
        argv = [str(cli_binary()), "--server", self.server_url, "--profile", str(self.profile),
                "--device-name", self.device.name, "--json"] + list(args)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise CliFailed("{} exited {}:\n{}{}".format(" ".join(argv), proc.returncode, proc.stdout, proc.stderr))
        out = proc.stdout.strip()
        return json.loads(out) if out else {}

    def folder_args(self) -> list:
        return ["--game", self.device.save_directory, "--dir", str(self.device.savedir)]

    def sync(self, policy: Optional[str] = None, game_dir: bool = True) -> Dict[str, Any]:
        """One `sync` of the device's save folder; the report JSON. With
        `game_dir`, also `--game-dir <copy>/game` (Ren'Py's other locations)."""
        args = ["sync"] + self.folder_args()
        if game_dir:
            args += ["--game-dir", str(self.device.game_dir)]
        if policy:
            args += ["--policy", policy]
        return self(*args)

    def history(self, file: str) -> Dict[str, Any]:
        return self("history", *self.folder_args(), file)

    def restore(self, file: str, version: int, game_dir: bool = True) -> Dict[str, Any]:
        args = ["restore", *self.folder_args(), "--version", str(version), file]
        if game_dir:
            args += ["--game-dir", str(self.device.game_dir)]
        return self(*args)


class Account:
    """One player's account: the first device signs up, the others pair with
    a code from it (as the README tells players to)."""

    name_prefix = "player"

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.user = "{}{}".format(self.name_prefix, next(_users))
        self.first: Optional[Cli] = None

    def cli(self, device: Device) -> Cli:
        """The renpy-cloud program as `device` (its own profile)."""
        return Cli(self.server_url, device)

    def sign_in(self, device: Device) -> Cli:
        cli = self.cli(device)
        if self.first is None:
            cli("signup", "--user", self.user, "--password", PASSWORD)
            self.first = cli
        else:
            cli("pair", "--code", self.first("pair")["code"])
        return cli

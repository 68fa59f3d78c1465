from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import renpy_cloud  # noqa: E402
from support import FaultProxy, Server, cli_binary  # noqa: E402

_users = itertools.count()


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "server-data").start()
    yield s
    s.stop()


@pytest.fixture
def proxy(server):
    p = FaultProxy(str(server.addr))
    yield p
    p.close()


class Devices:
    """Makes clients that act as separate devices: own save folder, own profile."""

    def __init__(self, tmp_path: Path, url: str, kind: str) -> None:
        self.tmp = tmp_path
        self.url = url
        self.kind = kind
        self.clients = []
        self.user = "player{}".format(next(_users))
        self.password = "correct horse battery"

    def make(self, name: str, game: str = "Demo-1700000000", url=None, **settings):
        save_dir = self.tmp / name / "saves"
        save_dir.mkdir(parents=True, exist_ok=True)
        settings.setdefault("profile", str(self.tmp / name / "profile.json"))
        settings.setdefault("device_name", name)
        settings.setdefault("timeout", 5.0)
        if self.kind == "native":
            c = renpy_cloud.NativeClient(url or self.url, game, str(save_dir), **settings)
        else:
            c = renpy_cloud.CliClient(str(cli_binary()), url or self.url, game, str(save_dir), **settings)
        c.dir = save_dir
        self.clients.append(c)
        return c

    def pair(self, first, second) -> None:
        """Signs `first` up and pairs `second` with a code from it."""
        first.signup(self.user, self.password)
        second.pair(first.pairing_code()["code"])

    def close(self) -> None:
        for c in self.clients:
            c.stop()


@pytest.fixture(params=["native", "cli"])
def devices(request, tmp_path, server):
    d = Devices(tmp_path, server.url, request.param)
    yield d
    d.close()


@pytest.fixture
def native(tmp_path, server):
    d = Devices(tmp_path, server.url, "native")
    yield d
    d.close()

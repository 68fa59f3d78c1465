"""Fixtures of the real-engine suite (see README.md): every test that takes
`engine` runs once per Ren'Py engine (RENPY_CLOUD_ENGINES narrows the list)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Account, Device, Server, selected_engines  # noqa: E402

ENGINES = selected_engines()


@pytest.fixture(params=ENGINES, ids=[e.version for e in ENGINES])
def engine(request):
    request.param.check()
    return request.param


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory):
    """The folder holding pytest's numbered run folders; chroot copies of old
    runs that pytest has already removed (it keeps three) are removed too."""
    # <tmp>/pytest-of-<user>/pytest-N, or …/pytest-N/popen-gwK for a
    # pytest-xdist worker.
    basetemp = tmp_path_factory.getbasetemp()
    base = next((p for p in basetemp.parents if p.name.startswith("pytest-of-")), basetemp.parent)
    for engine in ENGINES:
        if engine.chroot is not None:
            prune_chroot_work(engine.chroot / "work", base)
    return base


@pytest.fixture
def workspace(engine, tmp_path, runs_root):
    """This test's folder, reachable by the engine (inside its chroot for 8.3)."""
    return engine.workspace(tmp_path, runs_root)


@pytest.fixture
def new_device(engine, workspace):
    """new_device(name, game=None): a Device with its own HOME and copy of
    `game` (default: the engine's own The Question)."""

    def make(name: str, game: Path = None) -> Device:
        return Device(engine, workspace, name, game)

    return make


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "server-data").start()
    yield s
    s.stop()


@pytest.fixture
def account(server):
    """A fresh player account on the test's server; account.sign_in(device)
    returns that device's renpy-cloud CLI."""
    return Account(server.url)


def prune_chroot_work(work: Path, pytest_base: Path) -> None:
    """Removes the chroot copies of pytest runs that pytest itself has already
    removed (it keeps the last three), so failures stay readable."""
    if not work.is_dir():
        return
    for old in work.glob("pytest-*"):
        if old.is_dir() and not (pytest_base / old.name).exists():
            shutil.rmtree(old, ignore_errors=True)

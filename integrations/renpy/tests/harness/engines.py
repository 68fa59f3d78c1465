"""The real Ren'Py engines the suite runs, and how each is launched headless.

- 8.0.3: Debian bookworm's `renpy` package on the host. Ren'Py 8.0 builds AST
  nodes whose end line is before their start line, which Python 3.11 refuses;
  ../shim_renpy80/sitecustomize.py (on PYTHONPATH, test-only) fixes them.
- 8.3.4: Debian trixie's `renpy` in a chroot that `cargo xtask renpy-test`
  creates in the cache (RENPY_CLOUD_TRIXIE_ROOT, default
  ~/.cache/renpy-cloud/trixie-8.3). Everything the game touches (its copy, the
  HOME) must live inside the chroot tree; paths are translated both ways.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

TESTS_DIR = Path(__file__).resolve().parents[1]
COMPILE_SHIM_DIR = TESTS_DIR / "shim_renpy80"
GAMES = "/usr/share/games/renpy"
RENPY = "/usr/games/renpy"
# Written by xtask/src/renpy.rs once the chroot's apt install has completed.
CHROOT_COMPLETE_MARKER = ".renpy-cloud-complete"
# The environment a game runs with: nothing inherited from the test process.
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/games",
    "LANG": "C.UTF-8",
    # Skip Ren'Py's GL performance test, which can hang headless.
    "RENPY_PERFORMANCE_TEST": "0",
    "SDL_AUDIODRIVER": "dummy",
    # An exception exits the engine (after writing traceback.txt) instead of
    # showing the exception screen, which would wait forever.
    "RENPY_SIMPLE_EXCEPTIONS": "1",
}

_display_numbers = itertools.count()


class EngineMissing(RuntimeError):
    pass


def trixie_root() -> Path:
    if os.environ.get("RENPY_CLOUD_TRIXIE_ROOT"):
        return Path(os.environ["RENPY_CLOUD_TRIXIE_ROOT"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "renpy-cloud" / "trixie-8.3"


class Engine:
    """One Ren'Py version: where its files are and how to start a game."""

    def __init__(self, version: str, chroot: Optional[Path], compile_shim: bool) -> None:
        self.version = version
        self.chroot = chroot
        self.compile_shim = compile_shim

    def __repr__(self) -> str:
        return "Engine({})".format(self.version)

    @property
    def supports_save_tokens(self) -> bool:
        """Ren'Py 8.1+ signs saves and persistent (tokens/security_keys.txt)."""
        return tuple(int(i) for i in self.version.split(".")) >= (8, 1)

    def check(self) -> None:
        """Raises EngineMissing (saying how to install it) unless usable."""
        how = "run `cargo xtask renpy-test` once to install it"
        if self.chroot is not None:
            if not (self.chroot / CHROOT_COMPLETE_MARKER).exists():
                raise EngineMissing("Ren'Py {}: no complete chroot at {}; {}".format(self.version, self.chroot, how))
            ensure_chroot_mounts(self.chroot)
        for needed in (RENPY, "/usr/bin/xvfb-run", GAMES + "/the_question"):
            if not self.host_path(needed).exists():
                raise EngineMissing("Ren'Py {}: {} is missing; {}".format(self.version, needed, how))

    def host_path(self, engine_path: str) -> Path:
        """Where a path the engine sees is on the host."""
        if self.chroot is None:
            return Path(engine_path)
        return self.chroot / engine_path.lstrip("/")

    def engine_path(self, host_path: Path) -> str:
        """The path the engine sees for a host path (inside its chroot)."""
        if self.chroot is None:
            return str(host_path)
        try:
            return "/" + str(Path(host_path).resolve().relative_to(self.chroot.resolve()))
        except ValueError:
            raise ValueError("{} is outside the chroot {}".format(host_path, self.chroot)) from None

    def shipped_game(self, name: str) -> Path:
        """A game Debian installs with this engine, e.g. "the_question"."""
        return self.host_path(GAMES + "/" + name)

    def workspace(self, test_dir: Path, base: Path) -> Path:
        """A folder the engine can reach for the test whose pytest folder is
        `test_dir` (under pytest's `base`); the same folder on the host."""
        if self.chroot is None:
            return test_dir
        path = self.chroot / "work" / test_dir.relative_to(base)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def command(self, home: Path, game_root: Path, args: List[str], env: Dict[str, str]) -> List[str]:
        """argv that runs `renpy <game_root> <args>` headless as the device
        whose HOME is `home` (host paths), with `env` added."""
        full = dict(BASE_ENV, HOME=self.engine_path(home), **env)
        if self.compile_shim:
            full["PYTHONPATH"] = str(COMPILE_SHIM_DIR)
        # Separate X display numbers per launch: two Xvfb with one number
        # clash (their sockets share the abstract namespace even across the
        # chroot), and xvfb-run -a's probing races between processes.
        # Far above xvfb-run's default (99), which other tools use.
        display = 1000 + (os.getpid() % 400) * 20 + next(_display_numbers) % 20
        argv = ["env", "-i"] + ["{}={}".format(k, v) for k, v in sorted(full.items())]
        argv += ["xvfb-run", "-a", "-n", str(display), RENPY, self.engine_path(game_root)] + args
        if self.chroot is not None:
            argv = ["chroot", str(self.chroot)] + argv
        return argv


def ensure_chroot_mounts(root: Path) -> None:
    """/proc, /sys and /dev inside the chroot; harmless if already mounted."""
    mounts = [
        ("proc", ["mount", "-t", "proc", "proc"]),
        ("sys", ["mount", "-t", "sysfs", "sysfs"]),
        ("dev", ["mount", "--bind", "/dev"]),
    ]
    with open(root / ".renpy-cloud-mount.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name, mount in mounts:
            target = root / name
            if not os.path.ismount(target):
                subprocess.run(mount + [str(target)], check=True)


def all_engines() -> Dict[str, Engine]:
    return {
        "8.0.3": Engine("8.0.3", None, compile_shim=True),
        "8.3.4": Engine("8.3.4", trixie_root(), compile_shim=False),
    }


def selected_engines() -> List[Engine]:
    """The engines to test: RENPY_CLOUD_ENGINES (comma-separated versions) or all."""
    engines = all_engines()
    wanted = os.environ.get("RENPY_CLOUD_ENGINES")
    if not wanted:
        return list(engines.values())
    unknown = [v for v in wanted.split(",") if v not in engines]
    if unknown:
        raise ValueError("unknown engine versions {}; known: {}".format(unknown, list(engines)))
    return [engines[v] for v in wanted.split(",")]

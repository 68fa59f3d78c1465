"""A simulated computer: its own HOME and its own copy of a game.

Ren'Py writes every save to each of its save locations (`~/.renpy/<save
directory>`, `<game>/saves`, and from 8.1 `<savedir>/sync`) and shows the copy
with the newest mtime, so two devices must never share either folder.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Optional

from .engines import Engine

DRIVER_DIR = Path(__file__).resolve().parent / "driver"
DRIVER_FILES = ("zz_renpy_cloud_test_driver.rpy", "renpy_cloud_test_driver.py")
SAVE_DIRECTORY = re.compile(r"""^\s*define\s+config\.save_directory\s*=\s*["']([^"']+)["']""", re.M)


class Device:
    """`workspace/<name>/home` is its HOME, `workspace/<name>/game` its copy of
    the game's base folder (with the test driver added to `game/game`)."""

    def __init__(self, engine: Engine, workspace: Path, name: str, game: Optional[Path] = None) -> None:
        self.engine = engine
        self.name = name
        self.dir = workspace / name
        self.home = self.dir / "home"
        self.game_root = self.dir / "game"
        source = game if game is not None else engine.shipped_game("the_question")
        if self.dir.exists():
            raise FileExistsError("device {} already exists in {}".format(name, workspace))
        self.home.mkdir(parents=True)
        shutil.copytree(source, self.game_root, symlinks=True)
        for f in DRIVER_FILES:
            shutil.copy2(DRIVER_DIR / f, self.game_dir / f)
        self.save_directory = read_save_directory(self.game_dir)

    def __repr__(self) -> str:
        return "Device({}, {})".format(self.name, self.engine.version)

    @property
    def game_dir(self) -> Path:
        """The game's `game/` folder (config.gamedir)."""
        return self.game_root / "game"

    @property
    def savedir(self) -> Path:
        """config.savedir: ~/.renpy/<config.save_directory> on Linux."""
        return self.home / ".renpy" / self.save_directory

    @property
    def game_saves(self) -> Path:
        """Ren'Py's second save location, `<game>/saves`."""
        return self.game_dir / "saves"

    @property
    def sync_saves(self) -> Path:
        """Ren'Py 8.1+'s third save location, `<savedir>/sync`."""
        return self.savedir / "sync"

    @property
    def tokens_dir(self) -> Path:
        return self.home / ".renpy" / "tokens"

    @property
    def security_keys(self) -> Path:
        return self.tokens_dir / "security_keys.txt"

    def save_locations(self):
        """Every folder this device's Ren'Py may read a slot from."""
        return [self.savedir, self.game_saves, self.sync_saves]

    def run(self, steps, **options):
        """Runs the game with `steps`; see harness.runner.run."""
        from .runner import run

        return run(self, steps, **options)


def read_save_directory(game_dir: Path) -> str:
    for path in sorted(game_dir.glob("*.rpy")):
        found = SAVE_DIRECTORY.search(path.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found.group(1)
    raise ValueError("no `define config.save_directory` in {}".format(game_dir))

"""The example game as shipped, in the real engines (each test runs on 8.0.3 and
8.3.4), and the helpers every test_integration_* file builds its games with.

A game here is built the way a developer ships it (integrations/renpy/README.md):
a copy of example_game/ with the drop-ins' real files (links followed, as a
launcher build does), `define cloud.server` pointing at the test's server in the
game's own options.rpy, and one of:

- "native": the renpy_cloud wheel installed into game/python-packages;
- "cli": the wheel's package without its compiled module (as where it cannot
  load) and the renpy-cloud program in game/renpy-cloud/linux/;
- "none": neither (the drop-ins alone).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import pytest

from harness import Account, Cli, steps
from harness.cloud import cli_binary
from harness.device import DRIVER_FILES
from support import target_dir

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "example_game"
SERVER_LINE = re.compile(r'^define cloud\.server = .*$', re.M)
SLOT = "-LT1.save"


class MissingBuild(RuntimeError):
    pass


def wheel() -> Path:
    """The renpy_cloud wheel: RENPY_CLOUD_WHEEL, else the newest one `cargo xtask
    python` built."""
    if os.environ.get("RENPY_CLOUD_WHEEL"):
        return Path(os.environ["RENPY_CLOUD_WHEEL"])
    found = sorted((target_dir() / "wheels-python").glob("renpy_cloud-*.whl"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise MissingBuild("no renpy_cloud wheel in {}; run `cargo xtask python`".format(target_dir() / "wheels-python"))
    return found[-1]


_shipped = {}


def build_game(dest: Path, server_url: Optional[str], module: str = "native", options: str = "") -> Path:
    """The example game as shipped (see the module docstring) in `dest`, its
    options.rpy pointing at `server_url`, with `options` appended. Returns `dest`."""
    if module not in _shipped:  # built once per test session
        where = tempfile.mkdtemp(prefix="renpy-cloud-shipped-")
        atexit.register(shutil.rmtree, where, True)
        _shipped[module] = ship(Path(where) / "game", module)
    shutil.copytree(_shipped[module], dest, symlinks=False)
    opts = dest / "game" / "options.rpy"
    text = opts.read_text(encoding="utf-8-sig")
    if server_url is not None:
        text, n = SERVER_LINE.subn('define cloud.server = "{}"'.format(server_url), text)
        assert n == 1, "the example's options.rpy sets cloud.server once"
    opts.write_text("\ufeff" + text + ("\n" + options + "\n" if options else ""), encoding="utf-8")
    return dest


def ship(dest: Path, module: str) -> Path:
    """The example game with its drop-ins' real files, and `module` installed."""
    shutil.copytree(EXAMPLE, dest, symlinks=False, ignore=shutil.ignore_patterns(
        "*.rpyc", "cache", "saves", "python-packages", "renpy-cloud", "log.txt", "traceback.txt", "errors.txt"))
    game = dest / "game"
    if module in ("native", "cli"):
        packages = game / "python-packages"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(packages),
                        str(wheel())], check=True)
        if module == "cli":
            for compiled in (packages / "renpy_cloud").glob("_native*"):
                if compiled.suffix != ".pyi":
                    compiled.unlink()
            program = game / "renpy-cloud" / "linux" / "renpy-cloud"
            program.parent.mkdir(parents=True)
            shutil.copy2(cli_binary(), program)
    else:
        assert module == "none", module
    return dest


def game_profile(device) -> Path:
    """The session file the in-game client uses: the renpy-cloud command line's
    default (<config dir>/renpy-cloud/profile.json) under the device's HOME."""
    return device.home / ".config" / "renpy-cloud" / "profile.json"


def game_cli(server_url: str, device) -> Cli:
    """`renpy-cloud` with the same session as the device's game."""
    cli = Cli(server_url, device)
    cli.profile = game_profile(device)
    return cli


class Player(Account):
    """One player's account, each device signed in with the session its game uses."""

    name_prefix = "gamer"

    def cli(self, device) -> Cli:
        return game_cli(self.server_url, device)


def one_player(server_url: str, *devices) -> Player:
    """Signs `devices` in to one new account (the first signs up, the others pair)."""
    player = Player(server_url)
    for device in devices:
        player.sign_in(device)
    return player


def play_and_save(slot: str, name: str, **variables) -> List[dict]:
    """Steps: set `variables`, play from the start, then save_uploaded()."""
    return [steps.set_vars(**variables), steps.play("start"), *save_uploaded(slot, name)]


def save_uploaded(slot: str, name: str) -> List[dict]:
    """Steps: save `slot` as `name` and wait until the server has it."""
    return [steps.save(slot, name), steps.wait(uploaded(slot), timeout=20)]


# --- a scripted player: Ren'Py's own testcase language ------------------------------

TESTCASE_HELPERS = '''# TEST-ONLY: a scripted player, in Ren'Py's testcase language.
init python:
    def _cloud_test_start(name):
        import renpy.test.testexecution as t
        t.node = t.testcases[name]

    def _cloud_test_running():
        import renpy.test.testexecution as t
        return t.node is not None

    def _cloud_test_note(key, value):
        # Into the driver's result file (outside the store, so never saved).
        import renpy_cloud_test_driver as d
        d.state.result.setdefault("notes", python_dict())[key] = d.plain(value)
        d.state.write()
'''


def add_testcase(device, name: str, body: List[str]) -> None:
    """Writes testcase `name` into the device's game. A plain string line is a
    click on the button whose text or alt contains it (at its centre: a random
    point would hit Ren'Py 8.3's float randrange bug on Python 3.13); other
    lines (`type "..."`, `pause N`, `$ ...`, note(...)) are testcase statements.

    A testcase must close the modal screens it opens: while one is shown, the
    driver's own steps (which pause) cannot go on. What it sees on the way is
    recorded with note() into RunResult.result["notes"]."""
    path = device.game_dir / "zz_cloud_testcases.rpy"
    text = path.read_text() if path.exists() else TESTCASE_HELPERS
    # Prefixed: a Ren'Py keyword (menu, label...) cannot name a testcase.
    lines = ["", "testcase cloud_{}:".format(name), "    $ _test.timeout = 20"]
    for line in body:
        # Both sides of `"A" until "B"` are clicks.
        line = re.sub(r'^("[^"]*") until ', r'\1 pos (0.5, 0.5) until ', line)
        if line.startswith('"') or re.search(r'until "[^"]*"$', line):
            line += " pos (0.5, 0.5)"
        lines.append("    " + line)
    path.write_text(text + "\n".join(lines) + "\n")


def play_testcase(name: str, timeout: float = 60) -> List[dict]:
    """Steps that run testcase `name` and wait until it has done everything."""
    return [steps.execute("_cloud_test_start({!r})".format("cloud_" + name)),
            steps.wait("not _cloud_test_running()", timeout=timeout)]


def note(key: str, expr: str) -> str:
    """A testcase line recording the value of `expr` (a store expression) as notes[key]."""
    return "$ _cloud_test_note({!r}, {})".format(key, expr)


def notes(run) -> dict:
    return run.result.get("notes", {})


SCREENS = "[n for n in ('cloud_badge', 'cloud_menu', 'cloud_conflicts', 'cloud_history') if renpy.get_screen(n)]"


def type_text(text: str) -> str:
    return "type {}".format(quote(text))


def quote(text: str) -> str:
    assert '"' not in text and "\\" not in text
    return '"{}"'.format(text)


# --- what the game reports -----------------------------------------------------------

def cloud_report() -> dict:
    """A step reporting what the integration shows and knows."""
    return steps.evaluate(
        "dict(kind=cloud.state.kind, problem=cloud.state.problem, badge=cloud.badge_label(),"
        " badge_shown=renpy.get_screen('cloud_badge') is not None,"
        " signed_in=cloud.signed_in(), username=cloud.state.status.get('username'),"
        " message=cloud.state.message, internal=cloud.state.internal_error,"
        " status=cloud.state.status)")


def uploaded(slot: str) -> str:
    """An expression true once a sync finished after `slot` was saved, with
    nothing left to upload."""
    return ("(cloud.state.status.get('last_sync') or 0) > renpy.slot_mtime({0!r})"
            " and not cloud.state.status.get('pending_uploads') and not cloud.state.status.get('syncing')"
            .format(slot))


def lint(device) -> subprocess.CompletedProcess:
    """`renpy <game> lint` of the game as shipped (without the test driver)."""
    for name in DRIVER_FILES:
        (device.game_dir / name).unlink()
    argv = device.engine.command(device.home, device.game_root, ["lint"], {})
    return subprocess.run(argv, capture_output=True, text=True, timeout=180)


def problems_in_game_files(output: str) -> List[str]:
    """Lint lines about the game's own files (lint names them game/<file>:<line>)."""
    return [l for l in output.splitlines() if re.search(r"game/[\w./-]+\.rpy:\d+", l)]


# --- the example game as shipped -----------------------------------------------------

@pytest.mark.parametrize("module", ["native", "none"])
def test_the_example_game_lints_clean(new_device, tmp_path, module):
    device = new_device("A", build_game(tmp_path / "shipped", None, module))
    out = lint(device)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Statistics:" in out.stdout, out.stdout + out.stderr
    assert problems_in_game_files(out.stdout + out.stderr) == [], out.stdout

    # The same check sees a real lint problem (so it can fail).
    broken = new_device("B", build_game(tmp_path / "broken", None, module,
                                        options="label rc_lint_control:\n    show rc_no_such_image\n    return"))
    out = lint(broken)
    assert any("rc_no_such_image" in l for l in problems_in_game_files(out.stdout + out.stderr)), out.stdout


@pytest.mark.parametrize("module", ["native", "cli"])
def test_the_example_game_starts_with_both_drop_ins_and_plays(new_device, tmp_path, server, module):
    device = new_device("A", build_game(tmp_path / "shipped", server.url, module))
    run = device.run([
        steps.pause(0.3),  # the badge is shown by the first interaction
        cloud_report(),
        steps.evaluate("renpy_cloud.available()"),
        steps.evaluate("cloud.server"),
        steps.set_vars(tea_or_coffee="tea"),
        steps.play("start"),
        steps.save("1-1", "A: at the station"),
        steps.slots(),
        cloud_report(),
    ])
    before, web_available, server_used, after = run.all("eval")
    assert before["kind"] == module, before["problem"]
    assert before["badge_shown"] and before["badge"] == "Cloud: sign in", before
    assert before["internal"] is None and after["internal"] is None
    assert web_available is False, "the web file is inert on desktop"
    # The game's own `define cloud.server` (options.rpy) is what the drop-in uses.
    assert server_used == server.url
    assert run.first("play")["stopped"] == "the game waits for the player"
    assert [s["save_name"] for s in run.first("slots") if s["slot"] == "1-1"] == ["A: at the station"]
    assert after["badge_shown"], "the badge shows during play too"

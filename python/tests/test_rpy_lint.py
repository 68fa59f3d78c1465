"""Without a Ren'Py install: static checks of the drop-in integration
(integrations/renpy/*.rpy) and the example game that uses it.

Every Python part of the .rpy files must be valid Python, and the drop-in must keep the
rules that real Ren'Py engines enforce (integrations/renpy/tests/ runs them for real):
no `[expression]` interpolation in screen text, init priorities lint accepts, no store
variable or `define` the game's own options.rpy would fight with, stores kept out of saves.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = ROOT / "integrations" / "renpy"
DESKTOP = INTEGRATION / "renpy_cloud.rpy"
WEB = INTEGRATION / "renpy_cloud_web.rpy"
DROP_INS = [DESKTOP, WEB]
GAME = ROOT / "example_game" / "game"
# The example game's own files (its copies of the drop-ins are links to the ones above).
GAME_RPY = sorted(p for p in GAME.glob("*.rpy") if not p.is_symlink())
ALL_RPY = DROP_INS + GAME_RPY

BLOCK = re.compile(r"^(\s*)(init\s+(-?\d+\s+)?)?python(\s+early)?(\s+hide)?(\s+in\s+[\w.]+)?\s*:\s*$")
DEFINE = re.compile(r"^\s*(define|default)\s+(-?\d+\s+)?[\w.]+\s*(\+|\||)=\s*(.+)$")
INIT_PRIORITY = re.compile(r"^\s*init\s+(-?\d+)\b")
SCREEN = re.compile(r"^screen\s+\w+")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def python_parts(path: Path):
    """(line number, source, mode) for each Python part of a .rpy file."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = BLOCK.match(line)
        if m:
            indent = len(m.group(1))
            body = []
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                body.append(lines[j])
                j += 1
            yield i + 1, textwrap.dedent("\n".join(body)), "exec"
            i = j
            continue
        stripped = line.strip()
        if stripped.startswith("$ "):
            yield i + 1, stripped[2:], "exec"
        else:
            d = DEFINE.match(line)
            if d:
                # A value may go on over several lines (a triple-quoted string).
                value, j = d.group(4), i
                while not parses(value) and j + 1 < len(lines):
                    j += 1
                    value += "\n" + lines[j]
                yield i + 1, value, "eval"
                i = j
        i += 1


def parses(source):
    try:
        ast.parse(source, mode="eval")
        return True
    except SyntaxError:
        return False


def screen_lines(path: Path):
    """(line number, text) of every line inside a `screen` statement."""
    inside = False
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if line and not line[0].isspace():
            inside = bool(SCREEN.match(line))
            continue
        if inside:
            yield n, line


def test_there_is_something_to_lint():
    parts = [x for p in ALL_RPY for x in python_parts(p)]
    assert len(parts) > 20
    assert all(p.exists() for p in DROP_INS)


@pytest.mark.parametrize("path", ALL_RPY, ids=lambda p: p.name)
def test_python_in_rpy_parses(path):
    for lineno, source, mode in python_parts(path):
        try:
            ast.parse(source, filename="{}:{}".format(path.name, lineno), mode=mode)
        except SyntaxError as e:
            pytest.fail("{}:{}: {}\n{}".format(path.name, lineno, e, source))


def test_the_example_game_uses_the_integration_files_themselves():
    for drop_in in DROP_INS:
        link = GAME / drop_in.name
        assert link.is_symlink(), link
        assert link.resolve() == drop_in.resolve()


@pytest.mark.parametrize("path", DROP_INS, ids=lambda p: p.name)
def test_screen_text_interpolates_nothing(path):
    # Ren'Py 8.0-8.1 interpolate only [name] / [a.b]; 8.2+ evaluate [...] as Python.
    # The drop-ins show finished strings from helpers and so use neither.
    bad = []
    for n, line in screen_lines(path):
        for literal in STRING.findall(line):
            if re.search(r"(?<!\[)\[(?!\[)", literal):
                bad.append("{}:{}: {}".format(path.name, n, line.strip()))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", DROP_INS, ids=lambda p: p.name)
def test_drop_in_keeps_out_of_the_games_settings_and_saves(path):
    text = path.read_text(encoding="utf-8")
    # A `define` here would beat the game's own `define cloud.server` in options.rpy
    # (files run in name order within a priority), and `default` variables are saved.
    assert not re.search(r"^\s*(define|default)\s", text, re.M)
    # Every named store of the drop-in is kept out of saves and rollback.
    stores = re.findall(r"^init\s+-?\d+\s+python\s+in\s+(\w+):\n((?:\s*\n|    .*\n)*)", text, re.M)
    assert stores
    for name, body in stores:
        assert "_constant = True" in body, name
    for n, line in enumerate(text.splitlines(), 1):
        m = INIT_PRIORITY.match(line)
        if m:
            assert -999 <= int(m.group(1)) <= 999, "{}:{}: lint accepts -999..999".format(path.name, n)


def test_the_example_game_sets_the_server_in_its_own_options():
    options = (GAME / "options.rpy").read_text(encoding="utf-8-sig")
    assert re.search(r'^define cloud\.server = "http://127\.0\.0\.1:8787"$', options, re.M)
    assert 'define config.save_directory = "CloudSaveDemo-1732500000"' in options
    # A complete Ren'Py project: Ren'Py's own screens (save, load, confirm) and gui.
    for name in ("screens.rpy", "gui.rpy", "gui/main_menu.png", "gui/overlay/confirm.png"):
        assert (GAME / name).exists(), name
    screens = (GAME / "screens.rpy").read_text(encoding="utf-8-sig")
    for screen in ("screen save()", "screen load()", "screen confirm(", "screen main_menu()"):
        assert screen in screens, screen


def test_the_integration_avoids_master_only_hooks():
    text = DESKTOP.read_text(encoding="utf-8")
    # config.save_callbacks exists only on Ren'Py master (not in 8.5.x).
    assert "config.save_callbacks" not in text
    for hook in ("config.periodic_callbacks", "config.quit_callbacks", "config.always_shown_screens",
                 "loadsave.location.scan", "renpy.persistent.update", "verifying_keys"):
        assert hook in text, hook
    # renpy.savetoken does not exist before 8.1: never reached without a default.
    assert not re.search(r"renpy\.savetoken\.", text)


def test_the_integration_calls_only_what_the_package_has():
    import renpy_cloud

    text = DESKTOP.read_text(encoding="utf-8")
    assert "open_client(" in text
    for name in ("login", "signup", "pair", "pairing_code", "logout", "start", "status",
                 "take_results", "request_sync", "sync_now", "conflicts", "resolve", "history",
                 "restore", "shutdown"):
        assert re.search(r"\.{}\b".format(name), text), name
        assert hasattr(renpy_cloud.NativeClient, name), name
        assert hasattr(renpy_cloud.CliClient, name), name
    # The settings the drop-in passes are accepted by open_client's clients.
    for keyword in ("game_dir", "tokens_dir", "policy", "interval", "timeout", "device_name"):
        assert keyword + "=" in text, keyword

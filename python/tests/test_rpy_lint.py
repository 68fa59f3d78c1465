"""Without a Ren'Py install: every Python part of the example game's .rpy files must be
valid Python (`init python` / `python:` blocks, `$` lines, `define` / `default` values),
and the integration must use only hooks Ren'Py 8.1+ has."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

GAME = Path(__file__).resolve().parents[2] / "example_game" / "game"
RPY = sorted(GAME.glob("*.rpy"))
BLOCK = re.compile(r"^(\s*)(init\s+(-?\d+\s+)?)?python(\s+early)?(\s+hide)?(\s+in\s+[\w.]+)?\s*:\s*$")
DEFINE = re.compile(r"^\s*(define|default)\s+(-?\d+\s+)?[\w.]+\s*(\+|\||)=\s*(.+)$")


def python_parts(path: Path):
    """(line number, source, mode) for each Python part of a .rpy file."""
    lines = path.read_text(encoding="utf-8").splitlines()
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
                yield i + 1, d.group(4), "eval"
        i += 1


def test_there_is_something_to_lint():
    assert any(p.name == "renpy_cloud.rpy" for p in RPY)
    parts = [x for p in RPY for x in python_parts(p)]
    assert len(parts) > 20


@pytest.mark.parametrize("path", RPY, ids=lambda p: p.name)
def test_python_in_rpy_parses(path):
    for lineno, source, mode in python_parts(path):
        try:
            ast.parse(source, filename="{}:{}".format(path.name, lineno), mode=mode)
        except SyntaxError as e:
            pytest.fail("{}:{}: {}\n{}".format(path.name, lineno, e, source))


def test_the_integration_avoids_master_only_hooks():
    text = (GAME / "renpy_cloud.rpy").read_text(encoding="utf-8")
    # config.save_callbacks exists only on Ren'Py master (not in 8.5.x).
    assert "config.save_callbacks.append" not in text
    for hook in ("config.periodic_callbacks", "config.quit_callbacks", "loadsave.location.scan",
                 "renpy.persistent.update", "get_save_token_keys", "verifying_keys"):
        assert hook in text, hook


def test_the_integration_loads_the_package_it_ships_with():
    import renpy_cloud

    text = (GAME / "renpy_cloud.rpy").read_text(encoding="utf-8")
    for name in ("open_client", "take_results", "request_sync", "conflicts",
                 "resolve", "history", "restore", "pairing_code", "sync_now", "start", "stop"):
        assert name in text
        assert hasattr(renpy_cloud.NativeClient, name) or hasattr(renpy_cloud, name), name
        assert hasattr(renpy_cloud.CliClient, name) or hasattr(renpy_cloud, name), name

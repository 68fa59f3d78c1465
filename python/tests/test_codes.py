"""The pure-Python fallback speaks the codes the compiled module, the CLI and the server speak:
`sync_core::client::ErrorCode`, tabled in `renpy_cloud/_codes.py` by `cargo xtask codegen`."""

from __future__ import annotations

import ast
from pathlib import Path

import renpy_cloud
from renpy_cloud._codes import ERROR_CLASSES, ERROR_CODES

CLI_CLIENT = Path(renpy_cloud.__file__).with_name("_cli.py")


def emitted(tree: ast.AST):
    """(codes, classes) the fallback writes: `_error(code, message, class)` calls and
    `{"code": ..., "class": ...}` literals."""
    codes, classes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_error":
            args = node.args
            if args and isinstance(args[0], ast.Constant):
                codes.add(args[0].value)
            if len(args) > 2 and isinstance(args[2], ast.Constant):
                classes.add(args[2].value)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Constant):
                    if key.value == "code":
                        codes.add(value.value)
                    elif key.value == "class":
                        classes.add(value.value)
    return codes, classes


def test_every_code_the_fallback_emits_is_a_known_code():
    codes, classes = emitted(ast.parse(CLI_CLIENT.read_text(encoding="utf-8")))
    # The scan must see the fallback's own codes, or it proves nothing.
    assert {"internal", "timeout", "bad_setting", "usage"} <= codes
    assert codes - set(ERROR_CODES) == set()
    assert classes - set(ERROR_CLASSES) == set()

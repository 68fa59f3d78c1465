"""The checked-in type stub `_native.pyi` must say what the compiled module is: the same
classes, methods, parameter names, order, kinds and defaults as PyO3's
`__text_signature__` of each Rust function (the Rust definitions are the source)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import renpy_cloud._native as native

STUB = Path(__file__).resolve().parents[1] / "renpy_cloud" / "_native.pyi"


def stub_params(fn: ast.FunctionDef):
    """(name, kind, default) for each parameter of a stub function, without self."""
    out = []
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for arg, default in zip(positional, defaults):
        if arg.arg != "self":
            out.append((arg.arg, "positional", _value(default)))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, "keyword", _value(default)))
    return out


def _value(node):
    if node is None:
        return inspect.Parameter.empty
    return ast.literal_eval(node)


def module_params(obj):
    """The same from a compiled function's or class's text signature."""
    sig = inspect.signature(obj)
    out = []
    for p in sig.parameters.values():
        if p.name in ("self", "$self"):
            continue
        kind = "keyword" if p.kind is p.KEYWORD_ONLY else "positional"
        default = p.default
        # PyO3 writes non-literal defaults (a Rust String) as "...".
        out.append((p.name, kind, default))
    return out


def stub_tree():
    return ast.parse(STUB.read_text(encoding="utf-8"))


def test_the_stub_names_every_function_and_method_the_module_has():
    tree = stub_tree()
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    module_functions = {n for n in dir(native) if callable(getattr(native, n)) and not n.startswith("_")
                        and not isinstance(getattr(native, n), type)}
    assert functions == module_functions
    client = classes["Client"]
    stub_methods = {n.name for n in client.body if isinstance(n, ast.FunctionDef) and n.name != "__init__"}
    module_methods = {n for n in dir(native.Client) if not n.startswith("_")}
    assert stub_methods == module_methods, (stub_methods ^ module_methods)
    for exc in ("RenpyCloudError", "SettingsError", "AuthError", "NetworkError", "ServerError", "LocalError"):
        assert exc in classes and issubclass(getattr(native, exc), Exception)


def test_every_signature_matches():
    client = next(n for n in stub_tree().body if isinstance(n, ast.ClassDef) and n.name == "Client")
    for fn in (n for n in client.body if isinstance(n, ast.FunctionDef)):
        target = native.Client if fn.name == "__init__" else getattr(native.Client, fn.name)
        got, want = module_params(target), stub_params(fn)
        assert len(got) == len(want), (fn.name, got, want)
        for (gname, gkind, gdefault), (wname, wkind, wdefault) in zip(got, want):
            assert (gname, gkind) == (wname, wkind), (fn.name, got, want)
            if gdefault is not Ellipsis and repr(gdefault) != "Ellipsis":
                assert gdefault == wdefault, (fn.name, gname, gdefault, wdefault)

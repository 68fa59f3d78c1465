"""TEST-ONLY: lets Debian bookworm's Ren'Py 8.0.3 run on its Python 3.11.

Ren'Py 8.0 builds AST nodes whose end position is before their start (fixed
upstream in 8.1); Python 3.11's compile() rejects them ("AST node line range
(N, 1) is not valid"), so no screen compiles. The suite puts this folder on
PYTHONPATH for 8.0.3 only: compile() of an AST first clamps every node's
end_lineno / end_col_offset to at least its start. Source text is untouched.
"""

import ast
import builtins

_compile = builtins.compile


def _clamp_end_positions(tree):
    for node in ast.walk(tree):
        start = getattr(node, "lineno", None)
        if start is None:
            continue
        end = getattr(node, "end_lineno", None)
        if end is None or end < start:
            node.end_lineno = end = start
        if end == start:
            col = getattr(node, "col_offset", 0) or 0
            end_col = getattr(node, "end_col_offset", None)
            if end_col is None or end_col < col:
                node.end_col_offset = col


def compile(source, *args, **kwargs):
    if isinstance(source, ast.AST):
        _clamp_end_positions(source)
    return _compile(source, *args, **kwargs)


builtins.compile = compile

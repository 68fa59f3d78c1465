import ast, builtins
_compile = builtins.compile
def _fix(tree):
    for node in ast.walk(tree):
        ln = getattr(node, "lineno", None)
        if ln is None: continue
        eln = getattr(node, "end_lineno", None)
        if eln is None or eln < ln:
            node.end_lineno = ln
            eln = ln
        if eln == ln:
            co = getattr(node, "col_offset", 0) or 0
            eco = getattr(node, "end_col_offset", None)
            if eco is None or eco < co:
                node.end_col_offset = co
def compile(source, *a, **k):
    if isinstance(source, ast.AST):
        _fix(source)
    return _compile(source, *a, **k)
builtins.compile = compile

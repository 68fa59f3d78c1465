"""Looks inside Ren'Py save and persistent files without executing them.

Nothing here unpickles: `pickletools.genops` walks the opcodes, so a file can
be searched for every class or function it would import (GLOBAL /
STACK_GLOBAL `module.name`) and every string it holds. Used to prove that no
password, token or foreign module object is pickled into a save.
"""

from __future__ import annotations

import json
import pickletools
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Set

STRING_OPS = {
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
}
MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}
MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


@dataclass
class PickleContents:
    globals: Set[str]  # "module.name" of every class/function it would import
    strings: List[str]  # every str constant (bytes decoded as latin-1)

    def modules(self) -> Set[str]:
        return {g.rsplit(".", 1)[0] for g in self.globals}

    def contains(self, needle: str) -> bool:
        """True if `needle` is inside any string constant."""
        return any(needle in s for s in self.strings)


@dataclass
class SaveContents(PickleContents):
    members: List[str]
    json: Optional[dict]


def inspect_pickle(data: bytes) -> PickleContents:
    globals_: Set[str] = set()
    strings: List[str] = []
    memo = {}
    # The last two values pushed (strings, or None), which are what
    # STACK_GLOBAL pops; memo gets/puts are followed so memoized names count.
    recent: List[Optional[str]] = [None, None]
    for op, arg, _pos in pickletools.genops(data):
        pushed = None
        if op.name in STRING_OPS:
            pushed = arg if isinstance(arg, str) else bytes(arg).decode("latin-1")
            strings.append(pushed)
        elif op.name == "GLOBAL":
            globals_.add(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            globals_.add("{}.{}".format(recent[-2], recent[-1]))
        elif op.name in MEMO_GETS:
            pushed = memo.get(arg)
        elif op.name in MEMO_PUTS:
            memo[arg] = recent[-1]
            continue
        elif op.name == "MEMOIZE":
            memo[len(memo)] = recent[-1]
            continue
        recent = [recent[-1], pushed]
    return PickleContents(globals_, strings)


def inspect_save(path: Path) -> SaveContents:
    """A `.save` zip: its members, its json, and what its `log` pickle holds."""
    with zipfile.ZipFile(path) as zf:
        members = zf.namelist()
        contents = inspect_pickle(zf.read("log"))
        meta = json.loads(zf.read("json")) if "json" in members else None
    return SaveContents(contents.globals, contents.strings, members, meta)


def inspect_persistent(path: Path) -> PickleContents:
    """A `persistent` file: a zlib'd pickle (8.1+ appends signature lines)."""
    return inspect_pickle(zlib.decompressobj().decompress(Path(path).read_bytes()))

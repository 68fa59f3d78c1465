"""Pure-Python ``security_keys.txt`` merge, for where the extension cannot be loaded.
Same rules as the compiled one: append ``verifying-key <b64>`` lines for keys not yet
trusted, never rewrite or remove a line."""

from __future__ import annotations

import base64
import binascii
import os
from typing import List, Set

from . import _errors

MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 1024


def _decode(key: str) -> bytes:
    try:
        der = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise _bad_key("key {!r} is not base64: {}".format(key, e))
    if not MIN_KEY_BYTES <= len(der) <= MAX_KEY_BYTES:
        raise _bad_key("key {!r} is {} bytes, not a public key".format(key, len(der)))
    return der


def _bad_key(message: str) -> Exception:
    import renpy_cloud

    err = renpy_cloud.SettingsError(message)
    err.code = "bad_key"
    return err


def _trusted(text: str) -> Set[bytes]:
    out = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "verifying-key":
            public = parts[1]
        elif len(parts) >= 3 and parts[0] == "signing-key":
            public = parts[2]
        else:
            continue
        try:
            out.add(base64.b64decode(public))
        except (binascii.Error, ValueError):
            continue
    return out


def merge_security_keys(tokens_dir: str, keys: List[str]) -> List[str]:
    decoded = [(k.strip(), _decode(k)) for k in keys]
    path = os.path.join(tokens_dir, "security_keys.txt")
    try:
        with open(path, "r", encoding="utf-8") as f:
            existing = f.read()
    except FileNotFoundError:
        existing = ""
    trusted = _trusted(existing)
    lines = []
    added = []
    for b64, der in decoded:
        if der not in trusted:
            trusted.add(der)
            lines.append("verifying-key {}\n".format(base64.b64encode(der).decode("ascii")))
            added.append(b64)
    if not lines:
        return added
    os.makedirs(tokens_dir, exist_ok=True)
    prefix = "\n" if existing and not existing.endswith("\n") else ""
    with open(path, "a", encoding="utf-8") as f:
        f.write(prefix + "".join(lines))
        f.flush()
        os.fsync(f.fileno())
    return added

"""Save-token trust between a player's devices, for the native module and the CLI driver:
each publishes this computer's key (from its own security_keys.txt) before syncing, learns
the others', and appends them without duplicates and without touching existing lines; a
key file Ren'Py has not created is never created."""

from __future__ import annotations

import base64

from support import make_save, wait_for


def key(byte: int) -> str:
    # A P-256 SubjectPublicKeyInfo prefix plus a fake point: the shape Ren'Py writes.
    prefix = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
    return base64.b64encode(prefix + b"\x04" + bytes([byte]) * 64).decode()


def key_file(tmp_path, name, own_key):
    tokens = tmp_path / name / "tokens"
    tokens.mkdir(parents=True)
    own = "signing-key cHJpdmF0ZQ== {}\n".format(own_key)
    (tokens / "security_keys.txt").write_text(own)
    return tokens, own


def test_devices_trust_each_others_keys_before_downloading(devices, tmp_path):
    tokens_a, own_a = key_file(tmp_path, "a", key(1))
    tokens_b, own_b = key_file(tmp_path, "b", key(2))
    a = devices.make("a", tokens_dir=str(tokens_a))
    b = devices.make("b", tokens_dir=str(tokens_b))
    devices.pair(a, b)
    (a.dir / "persistent").write_bytes(b"a's persistent")
    assert a.sync_now()["ok"]
    assert a.status()["peer_keys"] == []
    # B trusts A's key in the same sync that brings A's persistent.
    result = b.sync_now()
    assert result["ok"] and result["report"]["downloaded"] == ["persistent"], result
    assert b.status()["peer_keys"] == [key(1)]
    assert (tokens_b / "security_keys.txt").read_text() == (
        own_b + "# renpy-cloud: keys of your other devices\nverifying-key {}\n".format(key(1))
    )
    # A learns B's key when something of B's arrives.
    (b.dir / "1-1-LT1.save").write_bytes(make_save("b's save"))
    assert b.sync_now()["ok"]
    a.start()
    wait_for(lambda: a.status()["peer_keys"] == [key(2)], what="peer keys")
    assert a.status()["keys_error"] is None
    assert "verifying-key {}\n".format(key(2)) in (tokens_a / "security_keys.txt").read_text()
    # Again: nothing is duplicated, and the original lines are untouched.
    assert b.sync_now()["ok"]
    text = (tokens_b / "security_keys.txt").read_text()
    assert text.count("verifying-key") == 1 and text.startswith(own_b)


def test_no_key_file_is_ever_created(devices, tmp_path):
    tokens = tmp_path / "a" / "tokens"
    a = devices.make("a", tokens_dir=str(tokens))
    b = devices.make("b")
    devices.pair(a, b)
    (a.dir / "1-1-LT1.save").write_bytes(make_save("x"))
    assert a.sync_now()["ok"]
    assert not tokens.exists()
    assert a.status()["keys_error"] is None

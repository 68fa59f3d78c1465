"""Save-token trust between a player's devices: publish keys, learn the others', append
them to security_keys.txt without duplicates and without touching existing lines."""

from __future__ import annotations

import base64

import pytest

import renpy_cloud
from renpy_cloud import _keys
from support import wait_for


def key(byte: int) -> str:
    # A P-256 SubjectPublicKeyInfo prefix plus a fake point: the shape Ren'Py writes.
    prefix = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
    return base64.b64encode(prefix + b"\x04" + bytes([byte]) * 64).decode()


def test_devices_trust_each_others_keys(native, tmp_path):
    a, b = native.make("a"), native.make("b")
    native.pair(a, b)
    tokens_a, tokens_b = tmp_path / "tokens-a", tmp_path / "tokens-b"
    tokens_b.mkdir()
    own_b = "signing-key cHJpdmF0ZQ== {}\n".format(key(2))
    (tokens_b / "security_keys.txt").write_text(own_b)
    assert a.exchange_device_keys([key(1)], str(tokens_a)) == []
    assert b.exchange_device_keys([key(2)], str(tokens_b)) == [key(1)]
    assert (tokens_b / "security_keys.txt").read_text() == own_b + "verifying-key {}\n".format(key(1))
    # The worker does it after a sync, and reports the peers for in-process trust.
    a.set_device_keys([key(1)], str(tokens_a))
    a.start()
    wait_for(lambda: a.status()["peer_keys"] == [key(2)], what="peer keys")
    assert a.status()["keys_error"] is None
    assert (tokens_a / "security_keys.txt").read_text() == "verifying-key {}\n".format(key(2))
    # Again: nothing is duplicated.
    assert b.exchange_device_keys([key(2)], str(tokens_b)) == [key(1)]
    assert (tokens_b / "security_keys.txt").read_text().count("verifying-key") == 1


def test_bad_keys_are_refused(native):
    a = native.make("a")
    with pytest.raises(renpy_cloud.SettingsError):
        a.set_device_keys(["not base64!"])


@pytest.mark.parametrize("merge", [renpy_cloud.merge_security_keys, _keys.merge_security_keys])
def test_native_and_pure_merge_agree(tmp_path, merge):
    f = tmp_path / "security_keys.txt"
    f.write_text("# comment\nverifying-key {}".format(key(3)))
    assert merge(str(tmp_path), [key(3), key(4), key(4)]) == [key(4)]
    assert merge(str(tmp_path), [key(4)]) == []
    assert f.read_text() == "# comment\nverifying-key {}\nverifying-key {}\n".format(key(3), key(4))
    with pytest.raises(renpy_cloud.SettingsError):
        merge(str(tmp_path), ["%%%"])

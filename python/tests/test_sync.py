"""Two devices, conflicts under every policy, for the native module and the CLI driver."""

from __future__ import annotations

import hashlib

import pytest

from support import files, make_save


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ok(result):
    assert result["ok"], result["error"]
    return result["report"]


def test_two_save_folders_converge(devices):
    a, b = devices.make("a"), devices.make("b")
    devices.pair(a, b)
    (a.dir / "1-1-LT1.save").write_bytes(make_save("chapter one"))
    (a.dir / "persistent").write_bytes(b"persistent from a")
    (b.dir / "2-1-LT1.save").write_bytes(make_save("chapter two"))
    ok(a.sync_now())
    ok(b.sync_now())
    ok(a.sync_now())
    assert files(a.dir).keys() >= {"1-1-LT1.save", "2-1-LT1.save", "persistent"}
    assert files(a.dir) == files(b.dir)
    # Nothing left to do on either side.
    assert ok(b.sync_now())["uploaded"] == []
    assert a.status()["pending_uploads"] == []
    assert a.status()["signed_in"] and a.status()["syncs"] >= 2


def conflict(devices, policy, local_save, remote_save):
    """Makes device b's slot conflict with device a's and syncs b under `policy`."""
    a, b = devices.make("a"), devices.make("b", policy=policy)
    devices.pair(a, b)
    slot = "1-1-LT1.save"
    (a.dir / slot).write_bytes(make_save("base"))
    ok(a.sync_now())
    ok(b.sync_now())
    (a.dir / slot).write_bytes(remote_save)
    ok(a.sync_now())
    (b.dir / slot).write_bytes(local_save)
    return a, b, slot


@pytest.mark.parametrize(
    "policy, winner",
    [("local", "local"), ("remote", "remote"), ("newest", "local"), ("most-progress", "remote")],
)
def test_conflict_policy_keeps_the_loser_in_history(devices, policy, winner):
    local_save = make_save("b's save", runtime=100, ctime=2_000_000_000)
    remote_save = make_save("a's save", runtime=500, ctime=1_900_000_000)
    a, b, slot = conflict(devices, policy, local_save, remote_save)
    report = ok(b.sync_now())
    assert [c["path"] for c in report["conflicts"]] == [slot]
    won, lost = (local_save, remote_save) if winner == "local" else (remote_save, local_save)
    assert (b.dir / slot).read_bytes() == won
    versions = b.history(slot)
    assert sha(lost) in {v["sha256"] for v in versions}, "the losing save must stay restorable"
    assert next(v for v in versions if v["current"])["sha256"] == sha(won)
    ok(a.sync_now())
    assert (a.dir / slot).read_bytes() == won


def test_keep_both_writes_the_other_save_to_the_conflict_page(devices):
    local_save, remote_save = make_save("mine"), make_save("theirs")
    a, b, slot = conflict(devices, "keep-both", local_save, remote_save)
    report = ok(b.sync_now())
    copy = report["conflicts"][0]["kept_copy"]
    assert copy.startswith("10-")
    assert (b.dir / slot).read_bytes() == local_save
    assert (b.dir / copy).read_bytes() == remote_save


def test_manual_conflict_shows_both_sides_and_resolves(devices):
    local_save = make_save("mine", runtime=100)
    remote_save = make_save("theirs", runtime=500)
    a, b, slot = conflict(devices, "manual", local_save, remote_save)
    result = ok(b.sync_now())
    assert [p["path"] for p in result["pending_manual"]] == [slot]
    assert b.status()["pending_conflicts"] == [slot]
    [c] = b.conflicts()
    assert c.path == slot
    assert c.local["meta"]["save_name"] == "mine"
    assert c.local["meta"]["game_runtime"] == 100
    assert c.remote["meta"]["save_name"] == "theirs"
    assert c.remote["device_id"] != b.status()["device_id"]
    assert c.local_screenshot.endswith(b"mine")
    # The remote screenshot is downloaded and read from the other device's save (by the
    # module, or by the program the CLI client runs).
    assert c.remote_screenshot.endswith(b"theirs")
    assert c.remote["device_name"] == "a"
    assert c.local["device_name"] == "this device"
    # Nothing was overwritten while waiting.
    assert (b.dir / slot).read_bytes() == local_save
    b.resolve(slot, "remote")
    ok(b.sync_now())
    assert (b.dir / slot).read_bytes() == remote_save
    assert sha(local_save) in {v["sha256"] for v in b.history(slot)}
    assert b.status()["pending_conflicts"] == []


def test_history_and_restore(devices):
    a, b = devices.make("a"), devices.make("b")
    devices.pair(a, b)
    slot = "3-1-LT1.save"
    first, second = make_save("first"), make_save("second")
    (a.dir / slot).write_bytes(first)
    ok(a.sync_now())
    (a.dir / slot).write_bytes(second)
    ok(a.sync_now())
    versions = a.history(slot)
    assert [v["meta"]["save_name"] for v in versions] == ["second", "first"]
    old = versions[-1]["version"]
    a.restore(slot, old)
    assert (a.dir / slot).read_bytes() == first
    ok(b.sync_now())
    assert (b.dir / slot).read_bytes() == first

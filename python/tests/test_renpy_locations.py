"""Ren'Py's save locations with the native module and the CLI driver: what a sync writes
or deletes reaches every folder Ren'Py shows saves from (it shows the newest copy), and
another device's persistent is left for Ren'Py to merge, never put over this one's."""

from __future__ import annotations

import os
import time

from support import make_save, wait_for


def layout(tmp_path, name):
    game_dir = tmp_path / name / "TheGame" / "game"
    (game_dir / "saves").mkdir(parents=True)
    return game_dir


def test_downloads_and_deletions_reach_every_location(devices, tmp_path):
    ga, gb = layout(tmp_path, "a"), layout(tmp_path, "b")
    a = devices.make("a", game_dir=str(ga))
    b = devices.make("b", game_dir=str(gb))
    (b.dir / "sync").mkdir()
    devices.pair(a, b)
    slot = "1-1-LT1.save"
    older = make_save("A's older save")
    (a.dir / slot).write_bytes(older)
    os.utime(a.dir / slot, (1_000_000_000, 1_000_000_000))
    assert a.sync_now()["ok"]
    # B holds a newer-mtime copy of the slot in its mirrors (a stale game save).
    for d in (gb / "saves", b.dir / "sync"):
        (d / slot).write_bytes(make_save("B's stale copy"))
    assert b.sync_now()["ok"]
    for d in (b.dir, gb / "saves", b.dir / "sync"):
        assert (d / slot).read_bytes() == older, d
        assert int((d / slot).stat().st_mtime) == 1_000_000_000, d
    # A deletes it (in the game: every copy); B's copies all go.
    for d in (a.dir, ga / "saves"):
        (d / slot).unlink(missing_ok=True)
    assert a.sync_now()["ok"]
    report = b.sync_now()["report"]
    assert report["deleted_local"] == [slot]
    for d in (b.dir, gb / "saves", b.dir / "sync"):
        assert not (d / slot).exists(), d


def test_another_devices_persistent_is_left_to_merge(devices, tmp_path):
    a = devices.make("a", game_dir=str(layout(tmp_path, "a")))
    gb = layout(tmp_path, "b")
    b = devices.make("b", game_dir=str(gb))
    devices.pair(a, b)
    (a.dir / "persistent").write_bytes(b"a's fields")
    (b.dir / "persistent").write_bytes(b"b's fields")
    assert a.sync_now()["ok"]
    report = b.sync_now()["report"]
    assert report["merged"] == ["persistent"], report
    assert (b.dir / "persistent").read_bytes() == b"b's fields"
    assert (gb / "saves" / "persistent").read_bytes() == b"a's fields"


def test_the_worker_notices_a_save_by_itself(devices):
    a, b = devices.make("a"), devices.make("b")
    devices.pair(a, b)
    assert a.start(wait=15), "the first sync finishes within the wait"
    (a.dir / "2-1-LT1.save").write_bytes(make_save("made while playing"))
    started = time.time()
    wait_for(lambda: b.sync_now()["report"]["downloaded"] == ["2-1-LT1.save"] or None,
             timeout=20, what="the save on the server")
    assert time.time() - started < 12


def test_shutdown_never_holds_the_game(devices, proxy):
    a = devices.make("a", url=proxy.url, timeout=5.0)
    a.signup(devices.user, devices.password)
    a.start(wait=10)
    (a.dir / "1-1-LT1.save").write_bytes(make_save("last save before quitting"))
    proxy.mode = "hang"
    a.request_sync()
    time.sleep(0.5)  # a sync is now stuck on the silent server
    started = time.time()
    a.shutdown(1.5)
    assert time.time() - started < 2.0

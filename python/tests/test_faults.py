"""Outages and broken servers: nothing raises into the caller, everything shows in
status(), queued changes go out when the server is back."""

from __future__ import annotations

import time

import pytest

import renpy_cloud
from support import Server, files, make_save, wait_for


def test_offline_changes_wait_on_disk_and_go_out_on_reconnect(devices, server):
    a, b = devices.make("a", interval=5), devices.make("b")
    devices.pair(a, b)
    a.start()
    wait_for(lambda: a.status()["syncs"] >= 1, what="first background sync")
    server.stop()
    (a.dir / "1-1-LT1.save").write_bytes(make_save("made offline"))
    a.request_sync()
    st = wait_for(lambda: (lambda s: s if s["offline"] else None)(a.status()), what="offline status")
    assert st["last_error"]["code"] == "offline"
    assert st["last_error"]["transient"]
    wait_for(lambda: "1-1-LT1.save" in a.status()["pending_uploads"], what="queued upload")
    failed = [r for r in a.take_results() if not r["ok"]]
    assert failed and failed[-1]["error"]["code"] == "offline"
    # A second client on the same folder sees the queue too: it is on disk, not in memory.
    server.start()
    # Backoff retries on its own (1 s, 2 s, 4 s …) without being asked.
    wait_for(lambda: a.status()["pending_uploads"] == [] and a.status()["last_error"] is None,
             timeout=30, what="delivery after reconnect")
    assert not a.status()["offline"]
    report = b.sync_now()["report"]
    assert report["downloaded"] == ["1-1-LT1.save"]
    assert files(b.dir)["1-1-LT1.save"] == files(a.dir)["1-1-LT1.save"]


@pytest.mark.parametrize("mode, code", [("500", "server_error"), ("hang", "timeout"), ("refuse", "offline")])
def test_a_broken_server_never_raises_and_shows_in_status(devices, proxy, mode, code):
    a = devices.make("a", url=proxy.url, timeout=1.0, interval=5)
    a.signup(devices.user, devices.password)
    (a.dir / "1-1-LT1.save").write_bytes(make_save("keep me"))
    proxy.mode = mode
    started = time.time()
    result = a.sync_now()
    assert not result["ok"]
    assert result["error"]["code"] == code, result["error"]
    assert time.time() - started < 15, "a hanging server must time out"
    st = a.status()
    assert st["last_error"]["code"] == code
    assert st["offline"] and st["last_error"]["transient"]
    # The game's next start (a new client on the same device) knows whether the server
    # answered at all (a 500 is an answer); start-up waits only for one that did. The CLI
    # client cannot tell early.
    next_start = devices.make("a", url=proxy.url, timeout=1.0)
    assert not next_start.sync_now()["ok"]
    answered = (mode == "500") if devices.kind == "native" else None
    assert next_start.status()["reached_server"] is answered
    # The background worker keeps going too, and never raises.
    a.start()
    wait_for(lambda: a.status()["last_attempt"] and a.status()["last_attempt"] > started + 0.5 or None,
             what="a worker attempt")
    assert a.status()["running"]
    proxy.mode = "forward"
    a.request_sync()
    wait_for(lambda: a.status()["last_error"] is None and a.status()["pending_uploads"] == [],
             timeout=30, what="recovery")
    assert a.status()["reached_server"] is True
    a.stop()
    assert not a.status()["running"]


def test_sync_when_signed_out_is_a_status_not_an_exception(devices):
    a = devices.make("a")
    result = a.sync_now()
    assert not result["ok"] and result["error"]["class"] == "auth"
    assert not a.status()["signed_in"]


@pytest.mark.parametrize(
    "setting, value",
    [
        ("server", "ftp://saves.example.com"),
        ("game", "../escape"),
        ("policy", "newer"),
        ("interval", 0.01),
        ("timeout", float("nan")),
        ("device_name", "   "),
    ],
)
def test_bad_settings_give_clear_errors(devices, tmp_path, setting, value):
    kwargs = {"server": devices.url, "game": "Demo-1", "policy": "keep-both", "interval": 60.0,
              "timeout": 5.0, "device_name": "dev"}
    kwargs[setting] = value
    server, game = kwargs.pop("server"), kwargs.pop("game")
    with pytest.raises(renpy_cloud.SettingsError) as info:
        if devices.kind == "native":
            renpy_cloud.NativeClient(server, game, str(tmp_path / "s"), **kwargs)
        else:
            from support import cli_binary
            renpy_cloud.CliClient(str(cli_binary()), server, game, str(tmp_path / "s"), **kwargs)
    assert str(info.value).startswith(setting + ":"), str(info.value)
    assert info.value.code == "bad_setting"


def test_save_dir_that_is_a_file_is_refused(native, tmp_path):
    f = tmp_path / "not-a-folder"
    f.write_text("x")
    with pytest.raises(renpy_cloud.SettingsError, match="save_dir"):
        renpy_cloud.NativeClient(native.url, "Demo-1", str(f))


def test_bad_arguments_and_wrong_password(devices):
    a = devices.make("a")
    a.signup(devices.user, devices.password)
    with pytest.raises(renpy_cloud.SettingsError) as bad:
        a.resolve("1-1-LT1.save", "mine")
    # One vocabulary with the CLI and the browser client (sync_core::client::ErrorCode).
    assert bad.value.code == "usage"
    with pytest.raises(renpy_cloud.RenpyCloudError):
        a.history("../outside")
    b = devices.make("b")
    with pytest.raises(renpy_cloud.AuthError) as info:
        b.login(devices.user, "wrong password")
    assert not info.value.transient


def test_status_is_cheap_while_a_sync_runs(native):
    a, b = native.make("a"), native.make("b")
    native.pair(a, b)
    for i in range(20):
        (a.dir / "{}-1-LT1.save".format(i + 1)).write_bytes(make_save("s{}".format(i), payload=b"x" * 200_000))
    a.start()
    started = time.perf_counter()
    for _ in range(2000):
        a.status()
    per_call = (time.perf_counter() - started) / 2000
    assert per_call < 0.002, "status() must not wait for the sync ({:.4f} s)".format(per_call)
    wait_for(lambda: a.status()["syncs"] >= 1, what="sync")


def test_a_second_server_outage_keeps_state(tmp_path):
    """Stopping and restarting the server keeps accounts and data (sanity for the outage test)."""
    s = Server(tmp_path / "d").start()
    port = s.addr
    s.stop()
    s.start()
    assert s.addr == port
    s.stop()

"""What syncing looks like to a player of the example game, on each engine,
with the compiled module and with the CLI fallback: a save made during play
reaches the server within seconds, another device lists it before its main
menu, and persistent (the example's endings_seen, merged by
register_persistent) adds up across devices without losing a field."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import run_parallel, steps
from harness.cloud import CliFailed
from support import FaultProxy
from test_integration_game import SLOT, Player, build_game, cloud_report, one_player, play_and_save, uploaded

MODULES = ["native", "cli"]


def slot_entry(slots, name):
    return next((s for s in slots if s["slot"] == name), None)


def on_server(cli, path: str):
    """The current version of `path` on the server (as another device sees it), or None."""
    try:
        versions = cli.history(path)["versions"]
    except CliFailed:
        return None
    return next((v for v in versions if v.get("current") and not v.get("deleted")), None)


@pytest.mark.parametrize("module", MODULES)
def test_a_save_during_play_reaches_the_server_within_seconds(new_device, tmp_path, server, module):
    game = build_game(tmp_path / "shipped", server.url, module)
    a, watcher = new_device("A", game), new_device("watcher", game)
    player = Player(server.url)
    player.sign_in(a)
    observer = player.sign_in(watcher)  # never runs the game: only asks the server
    watcher.savedir.mkdir(parents=True)  # the CLI wants the folder it would sync
    assert on_server(observer, "no-such" + SLOT) is None
    path = "1-2" + SLOT

    def play():
        return a.run([
            steps.wait("cloud.signed_in() and cloud.state.status.get('last_sync')", timeout=20),
            steps.set_vars(tea_or_coffee="tea"),
            steps.play("start"),
            steps.save("1-2", "during play"),
            # The game goes on for a while: what reaches the server meanwhile
            # was not sent by the quit.
            steps.wait(uploaded("1-2"), timeout=20),
            steps.pause(8),
        ], timeout=120)

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(play)
        seen_at = None
        while not running.done():
            version = on_server(observer, path)
            if version is not None and (version.get("meta") or {}).get("save_name") == "during play":
                seen_at = time.time()
                break
            time.sleep(0.3)
        run = running.result()

    assert seen_at is not None, "the save never reached the server while the game ran"
    saved_at = (a.savedir / path).stat().st_mtime
    finished = run.result["times"]["finished"]
    assert seen_at < finished, "it reached the server before the game quit"
    print("{} on {}: the save was on the server {:.1f} s after it was made".format(
        module, a.engine.version, seen_at - saved_at))
    assert seen_at - saved_at < 6.0, "{:.1f} s after the save".format(seen_at - saved_at)


@pytest.mark.parametrize("module", MODULES)
def test_a_save_from_device_a_is_on_a_fresh_b_load_screen_before_its_main_menu(new_device, tmp_path, server,
                                                                                 module, engine):
    game = build_game(tmp_path / "shipped", server.url, module)
    a, b = new_device("A", game), new_device("B", game)
    player = Player(server.url)
    player.sign_in(a)
    a.run([
        steps.wait("cloud.signed_in() and cloud.state.status.get('last_sync')", timeout=20),
        steps.set_vars(tea_or_coffee="tea", met_eileen=True),
        steps.play("start"),
        steps.save("1-1", "A: tea at the station"),
    ])  # and quits: the quit sync sends what the periodic one has not yet
    player.sign_in(b)  # a computer that has never started the game

    run = b.run([steps.slots(), steps.persistent(), cloud_report()])
    first = run.records("slots")[0]
    assert first["where"] == "main_menu", "listed before the player sees the main menu"
    entry = slot_entry(first["result"], "1-1")
    assert entry is not None and entry["save_name"] == "A: tea at the station", first["result"]

    loaded = b.run([steps.load("1-1", "tea_or_coffee", "met_eileen")])
    assert loaded.first("load")["store"] == {"tea_or_coffee": "tea", "met_eileen": True}
    assert loaded.prompts == [], "A's save-token key was trusted: no 'unknown device' prompt"


@pytest.mark.parametrize("module", MODULES)
def test_persistent_of_a_takes_effect_on_a_b_that_has_played_no_field_lost(new_device, tmp_path, server, module,
                                                                           engine):
    proxy = FaultProxy(str(server.addr))
    try:
        game = build_game(tmp_path / "shipped", proxy.url, module)
        a, b = new_device("A", game), new_device("B", game)
        one_player(proxy.url, a, b)

        # Both play offline, each to its own ending and with its own field.
        proxy.mode = "refuse"
        run_parallel([
            (a, [steps.set_persistent(rc_from_a="A"), steps.play("ending_friends")]),
            (b, [steps.set_persistent(rc_from_b="B"), steps.play("ending_quiet")]),
        ])
        proxy.mode = "forward"

        # A gets online first: its persistent is the server's. Then B, which has
        # its own: both sides changed, and A's is merged into B's.
        a.run([steps.wait("cloud.state.status.get('last_sync')", timeout=20)])
        fields = ["endings_seen", "rc_from_a", "rc_from_b"]
        run = b.run([steps.persistent(fields), steps.wait("cloud.state.status.get('last_sync')", timeout=20),
                     steps.persistent(fields), cloud_report()])
        at_boot, after_sync = run.all("persistent")
        report = run.first("eval")
        assert after_sync["fields"] == {"endings_seen": ["friends", "quiet"], "rc_from_a": "A", "rc_from_b": "B"}, (
            at_boot, report)
        assert at_boot == after_sync, "merged at start-up, before the main menu"

        # And back: A gets B's merged persistent.
        again = a.run([steps.wait("cloud.state.status.get('last_sync')", timeout=20), steps.persistent(fields)])
        assert again.first("persistent")["fields"] == after_sync["fields"]
    finally:
        proxy.close()


def test_a_slot_deleted_in_the_game_on_a_disappears_from_b_and_stays_gone(new_device, tmp_path, server, engine):
    game = build_game(tmp_path / "shipped", server.url, "native")
    a, b = new_device("A", game), new_device("B", game)
    one_player(server.url, a, b)
    synced = "cloud.state.status.get('last_sync') and not cloud.state.status.get('syncing')"
    # B saves the slot itself, so Ren'Py keeps it in every one of B's locations.
    b.run([steps.wait(synced, timeout=20), *play_and_save("1-1", "B: to be deleted", tea_or_coffee="tea")])
    on_a = a.run([steps.wait(synced, timeout=20), steps.slots(), steps.delete("1-1"), steps.slots(),
                  steps.wait("not cloud.state.status.get('pending_uploads') and " + synced, timeout=20)])
    assert "1-1" in [s["slot"] for s in on_a.all("slots")[0]]
    assert "1-1" not in [s["slot"] for s in on_a.all("slots")[1]], "deleted in A's game"

    on_b = b.run([steps.wait(synced, timeout=20), steps.slots()])
    assert "1-1" not in [s["slot"] for s in on_b.first("slots")], "gone from B's load screen"
    again = b.run([steps.wait(synced, timeout=20), steps.slots()])
    assert "1-1" not in [s["slot"] for s in again.first("slots")], "and it stays gone"
    assert not any((folder / ("1-1" + SLOT)).exists() for folder in b.save_locations())

"""Every cloud screen opens and renders in the real engines (a screen that
raises exits the engine, which fails the run), and without the module the badge
still shows and the menu says why cloud saves are off."""

from __future__ import annotations

from harness import steps
from test_integration_game import (SCREENS, Player, add_testcase, build_game, cloud_report, note, notes,
                                   play_and_save, play_testcase, save_uploaded)


def test_without_the_module_the_badge_shows_and_the_menu_says_why(new_device, tmp_path, server):
    device = new_device("A", build_game(tmp_path / "shipped", server.url, "none"))
    add_testcase(device, "menu", [
        note("badge", "cloud.badge_label()"),
        '"Cloud saves"', "pause 0.5",
        note("opened", SCREENS),
        note("why", "cloud.off_text()"),
        '"Close cloud saves"', "pause 0.3",
        note("closed", SCREENS),
    ])
    run = device.run([
        cloud_report(),
        *play_testcase("menu"),
        # And the game plays on: a save, and loading it.
        steps.set_vars(tea_or_coffee="coffee"),
        steps.play("start"),
        steps.save("1-1", "without the module"),
    ])
    again = device.run([steps.load("1-1", "tea_or_coffee")])
    seen = notes(run)
    assert run.first("eval")["kind"] is None
    assert seen["badge"] == "Cloud: off"
    assert seen["opened"] == ["cloud_badge", "cloud_menu"], "the badge is shown and opens the menu"
    why = seen["why"]
    assert why.startswith("Cloud saves are off: ") and "renpy_cloud" in why and "python-packages" in why, why
    assert seen["closed"] == ["cloud_badge"]
    assert again.first("load")["store"] == {"tea_or_coffee": "coffee"}


def test_signed_out_menu_renders_its_sign_in_fields(new_device, tmp_path, server):
    device = new_device("A", build_game(tmp_path / "shipped", server.url, "native"))
    add_testcase(device, "menu", [
        '"Cloud saves"', "pause 0.5",
        note("opened", SCREENS),
        '"Cloud account name"', '"Cloud password"', '"Cloud pairing code"', "pause 0.3",
        # The pairing-code field was clicked last: it is the one being typed into.
        note("code_field_editable", "renpy.get_editable_input_value()[0] is cloud.code_value"),
        '"Close cloud saves"', "pause 0.3",
    ])
    run = device.run([*play_testcase("menu"), cloud_report()])
    assert notes(run) == {"opened": ["cloud_badge", "cloud_menu"], "code_field_editable": True}
    assert run.first("eval")["internal"] is None, run.first("eval")


def test_signed_in_menu_conflicts_and_history_open_and_render(new_device, tmp_path, server):
    device = new_device("A", build_game(tmp_path / "shipped", server.url, "native"))
    Player(server.url).sign_in(device)
    add_testcase(device, "menu_and_conflicts", [
        '"Cloud saves"', "pause 0.5",
        note("menu", SCREENS),
        note("account", "cloud.account_text()"),
        '"Conflicts"', "pause 1.5",
        note("conflicts", SCREENS),
        note("conflicts_message", "cloud.message_text()"),
        '"Close conflicts"', "pause 0.3",
        '"Close cloud saves"', "pause 0.3",
    ])
    add_testcase(device, "history", [
        '"Cloud saves"', "pause 0.5",
        '"1-1"', "pause 2.0",
        note("history", SCREENS),
        note("rows", "[cloud.history_row_text(i) for i in cloud.history_indexes()]"),
        '"Close history"', "pause 0.3",
        '"Close cloud saves"', "pause 0.3",
    ])
    run = device.run([
        steps.wait("cloud.signed_in() and cloud.state.status.get('last_sync')", timeout=20),
        *play_testcase("menu_and_conflicts"),
        # A save on the server, so its history has a version to list.
        *play_and_save("1-1", "for the history", tea_or_coffee="tea"),
        *play_testcase("history"),
        cloud_report(),
    ])
    seen = notes(run)
    assert seen["menu"] == ["cloud_badge", "cloud_menu"]
    assert seen["account"].startswith("Signed in as gamer"), seen["account"]
    assert seen["conflicts"] == ["cloud_badge", "cloud_menu", "cloud_conflicts"]
    assert seen["conflicts_message"] == "No conflicts are waiting."
    assert seen["history"] == ["cloud_badge", "cloud_menu", "cloud_history"]
    assert any("for the history" in row and "(current)" in row for row in seen["rows"]), seen["rows"]
    assert run.first("eval")["internal"] is None, run.first("eval")


def test_restoring_an_older_version_from_the_history_screen_is_what_the_game_lists_and_loads(
        new_device, tmp_path, server):
    device = new_device("A", build_game(tmp_path / "shipped", server.url, "native"))
    Player(server.url).sign_in(device)
    add_testcase(device, "restore", [
        '"Cloud saves"', "pause 0.5",
        '"1-1"', "pause 2.0",
        note("rows", "[cloud.history_row_text(i) for i in cloud.history_indexes()]"),
        '"Restore"', "pause 3.0",
        note("message", "cloud.message_text()"),
        '"Close history"', "pause 0.3",
        '"Close cloud saves"', "pause 0.3",
    ])
    run = device.run([
        steps.wait("cloud.signed_in() and cloud.state.status.get('last_sync')", timeout=20),
        *play_and_save("1-1", "the first", tea_or_coffee="tea"),
        steps.set_vars(tea_or_coffee="coffee"),
        *save_uploaded("1-1", "the second"),
        *play_testcase("restore"),
        steps.wait("cloud.idle() and not cloud.state.status.get('syncing')", timeout=20),
        steps.slots(),
    ])
    seen = notes(run)
    assert len(seen["rows"]) == 2 and "the second" in seen["rows"][0] and "(current)" in seen["rows"][0], seen["rows"]
    assert "is back to version" in seen["message"], seen["message"]
    assert [s["save_name"] for s in run.first("slots") if s["slot"] == "1-1"] == ["the first"]
    loaded = device.run([steps.load("1-1", "tea_or_coffee")])
    assert loaded.first("load")["store"] == {"tea_or_coffee": "tea"}

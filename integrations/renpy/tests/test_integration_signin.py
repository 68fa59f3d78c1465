"""Sign-up, pairing and sign-in typed into the in-game screens by a scripted
player (Ren'Py's testcase language clicks the fields and types, key by key),
with the compiled module and with the CLI fallback, on each engine."""

from __future__ import annotations

import re

import pytest

from harness import steps
from harness.cloud import PASSWORD
from test_integration_game import (add_testcase, build_game, cloud_report, game_cli, note, notes, play_testcase,
                                   type_text)


@pytest.mark.parametrize("module", ["native", "cli"])
def test_sign_up_pair_and_sign_in_typed_in_the_game(new_device, tmp_path, server, module):
    game = build_game(tmp_path / "shipped", server.url, module)
    a, b, c = new_device("A", game), new_device("B", game), new_device("C", game)
    user = "typed{}".format(module)

    add_testcase(a, "sign_up", [
        '"Cloud saves"', "pause 0.3",
        '"Cloud account name"', type_text(user),
        '"Cloud password"', type_text(PASSWORD),
        note("typed_user", "cloud.form.user"),
        # Clicks "Create account" until the signed-in menu replaces the form (as
        # a player clicks again when nothing happens; clicks while it works are
        # ignored), then `until` clicks its right side: "Sync now" is harmless.
        '"Create account" until "Sync now"',
        note("password_kept", "cloud.form.password"),
        "pause 1.0",
        '"Pair another computer"',
        "pause 0.5",
        '"Close cloud saves"', "pause 0.3",
    ])
    run_a = a.run([
        *play_testcase("sign_up"),
        steps.wait("cloud.idle()", timeout=20),
        cloud_report(),
    ])
    seen = notes(run_a)
    assert seen["typed_user"] == user
    assert seen["password_kept"] == "", "the typed password is dropped once used"
    report = run_a.first("eval")
    assert report["signed_in"] and report["username"] == user, report
    shown = re.search(r'enter (\S+) \(valid until', report["message"])
    assert shown, report["message"]
    code = shown.group(1)

    add_testcase(b, "pair", [
        '"Cloud saves"', "pause 0.3",
        '"Cloud pairing code"', type_text(code),
        note("typed_code", "cloud.form.code"),
        '"Pair" until "Sync now"',
        '"Close cloud saves"', "pause 0.3",
    ])
    run_b = b.run([*play_testcase("pair"), steps.wait("cloud.signed_in()", timeout=20), cloud_report()])
    assert run_b.first("eval")["username"] == user, run_b.first("eval")

    add_testcase(c, "sign_in", [
        '"Cloud saves"', "pause 0.3",
        '"Cloud account name"', type_text(user),
        '"Cloud password"', type_text(PASSWORD),
        '"Sign in" until "Sync now"',
        '"Close cloud saves"', "pause 0.3",
    ])
    run_c = c.run([*play_testcase("sign_in"), steps.wait("cloud.signed_in()", timeout=20), cloud_report()])
    assert run_c.first("eval")["username"] == user, run_c.first("eval")

    # Three devices of one account, as the server sees them.
    devices = game_cli(server.url, a)("devices")
    assert len(devices["devices"]) == 3, devices


@pytest.mark.parametrize("module", ["native", "cli"])
def test_a_wrong_password_is_told_to_the_player(new_device, tmp_path, server, module):
    game = build_game(tmp_path / "shipped", server.url, module)
    a, b = new_device("A", game), new_device("B", game)
    game_cli(server.url, a)("signup", "--user", "rightful" + module, "--password", PASSWORD)
    add_testcase(b, "sign_in", [
        '"Cloud saves"', "pause 0.3",
        '"Cloud account name"', type_text("rightful" + module),
        '"Cloud password"', type_text("not the password"),
        '"Sign in"',
        "pause 3.0",
        '"Close cloud saves"', "pause 0.3",
    ])
    run = b.run([*play_testcase("sign_in"), steps.wait("cloud.idle()", timeout=20), cloud_report()])
    report = run.first("eval")
    assert not report["signed_in"]
    assert report["message"] and "Working" not in report["message"], report
    assert report["internal"] is None, report

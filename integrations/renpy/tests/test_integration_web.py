"""renpy_cloud_web.rpy's screens in the real engines. No web build of Ren'Py
runs here, so the page's glue (window.RenpyCloud, reached through
renpy.emscripten) is stood in for by test-only functions in the same store;
the screens, their text and their inputs are the shipped ones, typed into by a
scripted player. (That the file is inert on desktop is checked in
test_integration_game.py.)"""

from __future__ import annotations

from harness import steps
from test_integration_game import SLOT, add_testcase, build_game, note, notes, play_testcase, type_text

# What the glue would answer: RenpyCloud.status() and window._renpyCloudLast.
STAND_IN = '''
_stand_in = {"status": {"phase": "signed-out", "account": None, "pendingConflicts": 0}, "last": None, "calls": []}
renpy_cloud.available = lambda: True
renpy_cloud._json = lambda expr: _stand_in["last"] if "_renpyCloudLast" in expr else _stand_in["status"]
renpy_cloud._call = lambda method, *args: _stand_in["calls"].append([method] + list(args))
'''


def test_web_screens_render_and_take_what_the_player_types(new_device, tmp_path):
    device = new_device("A", build_game(tmp_path / "shipped", None, "none"))
    add_testcase(device, "sign_in", [
        "$ renpy.show_screen('renpy_cloud')", "pause 0.5",
        note("status", "renpy_cloud.status_text()"),
        '"Cloud account name"', type_text("webplayer"),
        '"Cloud password"', type_text("web [secret]"),
        '"Sign in"', "pause 0.3",
        note("password_kept", "renpy_cloud.form.password"),
        '"Cloud pairing code"', type_text("ABCD-EFGH"),
        '"Pair"', "pause 0.3",
        "$ _stand_in['status'] = dict(phase='idle', account=dict(username='web [player]'), pendingConflicts=1)",
        "$ _stand_in['last'] = dict(op='createPairingCode', ok=True, result=dict(code='WXYZ-1234'))",
        "pause 1.0",
        note("signed_in", "renpy_cloud.status_text()"),
        note("outcome", "renpy_cloud.outcome_text()"),
        '"Resolve conflicts"', "pause 0.3",
        "$ _stand_in['last'] = dict(op='conflicts', ok=True, result=[dict(path='1-3" + SLOT + "')])",
        "pause 1.0",
        note("conflicts", "renpy_cloud.conflict_paths()"),
        '"Keep both"', "pause 0.3",
        note("screens", "[n for n in ('renpy_cloud', 'renpy_cloud_conflicts') if renpy.get_screen(n)]"),
        "$ renpy.hide_screen('renpy_cloud_conflicts')",
        "$ renpy.hide_screen('renpy_cloud')",
        "pause 0.3",
        note("calls", "_stand_in['calls']"),
    ])
    run = device.run([steps.execute(STAND_IN), *play_testcase("sign_in")])
    seen = notes(run)
    assert seen["status"] == "Not signed in (signed-out)."
    assert seen["password_kept"] == ""
    assert seen["signed_in"] == "Signed in as web [[player] (idle).", "escaped: shown as typed"
    assert seen["outcome"] == "On your other browser or computer, choose Pair and enter WXYZ-1234."
    assert seen["conflicts"] == ["1-3" + SLOT]
    assert seen["screens"] == ["renpy_cloud", "renpy_cloud_conflicts"]
    calls = seen["calls"]
    assert calls[0] == ["signIn", "webplayer", "web [secret]"], calls
    assert calls[1] == ["pair", "ABCD-EFGH"], calls
    assert ["conflicts"] in calls and ["resolve", "1-3" + SLOT, "keep-both"] in calls, calls

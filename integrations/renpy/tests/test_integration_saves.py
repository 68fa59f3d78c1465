"""Nothing of the cloud is pickled into a save: no password (typed and used,
or typed and never sent), no session token, no pairing code, no object of the
renpy_cloud module or of the drop-in's store. A save made after the player
opened every cloud screen (and one made with the menu open) loads in a copy of
the game that has no module at all."""

from __future__ import annotations

import json
import re
import shutil

from harness import inspect_persistent, inspect_save, steps
from harness.cloud import PASSWORD
from test_integration_game import (SLOT, add_testcase, build_game, game_profile, note, notes, play_and_save,
                                   play_testcase, type_text)

UNSENT = "UNSENT-pw-4471"
MARKER = "rc-marker-in-every-save"


def every_file_ren_py_saved(device):
    """(path, contents) for every save and persistent file in every location."""
    for folder in device.save_locations():
        for path in sorted(folder.glob("*")):
            if path.name.endswith(".save"):
                yield path, inspect_save(path)
            elif path.name == "persistent":
                yield path, inspect_persistent(path)


def test_no_secret_or_module_object_in_any_save_and_they_load_without_the_module(new_device, tmp_path, server):
    a = new_device("A", build_game(tmp_path / "with-module", server.url, "native"))
    user = "pickled"
    add_testcase(a, "sign_up", [
        '"Cloud saves"', "pause 0.3",
        '"Cloud account name"', type_text(user),
        '"Cloud password"', type_text(PASSWORD),
        '"Create account"',
        'pause 0.2 until "Sync now"',  # (until clicks it: harmless)
        "pause 1.0",
        '"Pair another computer"',
        "pause 1.5",
        note("pairing", "cloud.state.message"),
        '"Close cloud saves"', "pause 0.3",
    ])
    add_testcase(a, "every_screen", [
        '"Cloud saves"', "pause 0.3",
        '"Conflicts"', "pause 1.0", '"Close conflicts"', "pause 0.3",
        '"1-1"', "pause 1.5",
        note("history_rows", "len(cloud.state.history)"),
        '"Close history"', "pause 0.3",
        '"Close cloud saves"', "pause 0.3",
    ])
    first = a.run([
        *play_testcase("sign_up"),
        steps.wait("cloud.signed_in()", timeout=20),
        *play_and_save("1-1", "before the screens", tea_or_coffee="tea", rc_marker=MARKER),
        *play_testcase("every_screen"),
        steps.save("1-2", "after every screen"),
    ])
    session = json.loads(game_profile(a).read_text())["servers"][server.url]
    secrets = [PASSWORD, session["access_token"], session["refresh_token"]]

    # Signed out, the player types a password and leaves it unsent; a save is
    # made with the menu open (as an autosave could be).
    add_testcase(a, "unsent", [
        '"Cloud saves"', "pause 0.3",
        '"Sign out"', 'pause 0.2 until "Cloud password"',
        type_text(UNSENT),
        note("form", "cloud.form.password"),
        '$ renpy.save("1-3", "menu open, password typed")',
        '"Close cloud saves"', "pause 0.3",
    ])
    run = a.run([steps.set_vars(tea_or_coffee="tea", rc_marker=MARKER), steps.play("start"), *play_testcase("unsent")])
    assert notes(run)["form"] == UNSENT, "the password really was typed"
    code = re.search(r"enter (\S+) \(valid", notes(first)["pairing"]).group(1)
    secrets += [UNSENT, code, user]

    inspected = list(every_file_ren_py_saved(a))
    saved = {p.name for p, _ in inspected}
    assert {"1-1" + SLOT, "1-2" + SLOT, "1-3" + SLOT, "persistent"} <= saved, saved
    for path, contents in inspected:
        if path.name.endswith(SLOT):
            assert contents.contains(MARKER), "the inspector sees what {} holds".format(path)
        for secret in secrets:
            assert not contents.contains(secret), "{} holds {!r}".format(path, secret[:8] + "...")
        foreign = {m for m in contents.modules() if m.startswith(("renpy_cloud", "store.cloud", "store.renpy_cloud"))}
        assert not foreign, "{} pickles {}".format(path, foreign)

    # A copy of the game without the module loads them.
    b = new_device("B", build_game(tmp_path / "without-module", server.url, "none"))
    b.savedir.mkdir(parents=True)
    for slot in ("1-2", "1-3"):
        shutil.copy2(a.savedir / (slot + SLOT), b.savedir / (slot + SLOT))
    for slot in ("1-2", "1-3"):
        loaded = b.run([steps.load(slot, "tea_or_coffee")])
        assert loaded.first("load")["store"] == {"tea_or_coffee": "tea"}, slot

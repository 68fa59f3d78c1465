"""The `renpy-cloud` CLI alone, between runs of an unmodified real game
(Debian's renpy-thequestion, save directory `the_question-7`), on every engine.

Each assertion is about what the engine itself reports (its load screen's
slots, a loaded game's variables, persistent in effect), not about files.
"""

from pathlib import Path

from harness import run_parallel, steps

SAVE = "1-1-LT1.save"
# Into the story far enough to be a real save: the first scene, up to the
# first menu (the game then waits for the player, which ends the step).
PLAY = steps.play("rightaway")


def slot(run_slots, name):
    """The load-screen entry for slot `name`, or None."""
    return next((s for s in run_slots if s["slot"] == name), None)


def listed(run_slots):
    return sorted(s["slot"] for s in run_slots)


def public_keys(security_keys: Path, kind: str) -> set:
    """Base64 public keys of the `kind` lines of a Ren'Py security_keys.txt:
    `signing-key <private> <public>` or `verifying-key <public>`."""
    if not security_keys.exists():
        return set()
    keys = set()
    for line in security_keys.read_text().splitlines():
        words = line.split()
        if words and words[0] == kind:
            keys.add(words[-1])
    return keys


def test_a_save_made_on_one_device_is_listed_and_loads_on_a_fresh_one(new_device, account):
    a, b = new_device("A"), new_device("B")
    cli_a, cli_b = account.sign_in(a), account.sign_in(b)
    a.run([
        steps.set_vars(rc_marker="A: tea at the station", book=True),
        steps.play("rightaway"),
        steps.save("1-1", "A: the meadow"),
    ])
    # The README's plain sync is enough here: B has never started the game,
    # so it has no copy in Ren'Py's other save locations to shadow A's.
    cli_a.sync(game_dir=False)
    cli_b.sync(game_dir=False)

    run = b.run([steps.slots(), steps.load("1-1", "rc_marker", "book")])

    before_menu = run.records("slots")[0]
    assert before_menu["where"] == "main_menu", "listed before the player sees the main menu"
    listed = slot(before_menu["result"], "1-1")
    assert listed is not None, "B's load screen lists A's 1-1: {}".format(before_menu["result"])
    assert listed["save_name"] == "A: the meadow"
    assert run.first("load")["store"] == {"rc_marker": "A: tea at the station", "book": True}


def test_b_persistent_of_another_device_takes_effect_on_one_that_has_played(new_device, account, engine):
    a, b, fresh = new_device("A"), new_device("B"), new_device("C-never-started")
    cli_a, cli_b, cli_fresh = account.sign_in(a), account.sign_in(b), account.sign_in(fresh)
    # Both have played (B's own persistent and, on 8.1+, its own signing key
    # exist), each seeing a different part of the story and setting its field.
    first_a, first_b = run_parallel([
        (a, [steps.set_persistent(rc_from_a="set on A"), PLAY, steps.persistent()]),
        (b, [steps.set_persistent(rc_from_b="set on B"), steps.play("later"), steps.persistent()]),
    ])
    assert first_b.first("play")["stopped"] == "the story returned to the main menu"

    cli_a.sync()
    # B has its own persistent: A's is left for Ren'Py to merge, not copied over it.
    assert "persistent" in cli_b.sync()["merged"]
    cli_fresh.sync()

    run = b.run([steps.persistent(["rc_from_a", "rc_from_b"], ["rightaway", "later"])])
    merged = run.first("persistent")
    assert merged["fields"] == {"rc_from_a": "set on A", "rc_from_b": "set on B"}, "no field lost"
    assert merged["seen_labels"] == {"rightaway": True, "later": True}, "_seen_ever is a union"
    assert merged["seen_ever_count"] >= max(first_a.first("persistent")["seen_ever_count"],
                                            first_b.first("persistent")["seen_ever_count"])
    if engine.supports_save_tokens:
        a_key = public_keys(a.security_keys, "signing-key")
        assert len(a_key) == 1, "Ren'Py made A one signing key"
        assert a_key <= public_keys(b.security_keys, "verifying-key"), "B trusts A's key"
    # Ren'Py creates security_keys.txt with this device's own signing key on
    # its first start (8.1+); a file created earlier would never get one.
    assert not fresh.security_keys.exists(), "the CLI never creates security_keys.txt"
    if not engine.supports_save_tokens:
        assert not a.security_keys.exists() and not b.security_keys.exists()


def test_c_a_slot_deleted_in_game_disappears_from_the_other_device_and_stays_gone(new_device, account):
    a, b = new_device("A"), new_device("B")
    cli_a, cli_b = account.sign_in(a), account.sign_in(b)
    # B saves the slot itself, so Ren'Py writes it to all of B's locations.
    b.run([steps.set_vars(rc_marker="B: to be deleted"), PLAY, steps.save("1-1", "B: to be deleted")])
    cli_b.sync()
    cli_a.sync()
    on_a = a.run([steps.slots(), steps.delete("1-1"), steps.slots()])
    assert "1-1" in listed(on_a.all("slots")[0])
    assert "1-1" not in listed(on_a.all("slots")[1]), "deleted in A's game"

    assert SAVE in cli_a.sync()["deleted_remote"]
    cli_b.sync()

    after = b.run([steps.slots(), steps.set_vars(rc_marker="B: later"), PLAY, steps.save("1-2", "B: later")])
    assert "1-1" not in listed(after.first("slots")), "gone from B's load screen"
    cli_b.sync()
    again = b.run([steps.slots()])
    assert "1-1" not in listed(again.first("slots")), "still gone after B played and synced"
    assert "1-2" in listed(again.first("slots"))


def test_d_a_restored_history_version_is_what_the_engine_lists_and_loads(new_device, account):
    a, b = new_device("A"), new_device("B")
    cli_a, cli_b = account.sign_in(a), account.sign_in(b)
    a.run([steps.set_vars(rc_marker="A: v1"), PLAY, steps.save("1-1", "A: v1")])
    cli_a.sync()
    cli_b.sync()
    # B loads A's save, plays on and saves over it: Ren'Py writes B's version
    # to all of B's locations, newer than v1's own mtime.
    b.run([steps.load("1-1"), steps.set_vars(rc_marker="B: v2"), PLAY, steps.save("1-1", "B: v2")])
    cli_b.sync()
    versions = cli_b.history(SAVE)["versions"]
    v1 = next(v for v in versions if (v.get("meta") or {}).get("save_name") == "A: v1")
    newer = b.game_saves / SAVE
    assert newer.exists() and newer.stat().st_mtime * 1000 > v1["mtime"], "Ren'Py keeps B's v2 in <game>/saves"

    cli_b.restore(SAVE, v1["version"])

    after = b.run([steps.slots(), steps.load("1-1", "rc_marker")])
    assert slot(after.first("slots"), "1-1")["save_name"] == "A: v1"
    assert after.first("load")["store"] == {"rc_marker": "A: v1"}


def test_d_keeping_the_remote_side_of_a_conflict_shows_it_even_if_it_is_older(new_device, account):
    a, b = new_device("A"), new_device("B")
    cli_a, cli_b = account.sign_in(a), account.sign_in(b)
    a.run([steps.set_vars(rc_marker="A: saved first"), PLAY, steps.save("1-1", "A: saved first")])
    cli_a.sync()
    # B saves the same slot later, offline: its copies (in every location
    # Ren'Py writes) are newer than A's.
    b.run([steps.set_vars(rc_marker="B: saved second"), PLAY, steps.save("1-1", "B: saved second")])
    assert (b.game_saves / SAVE).stat().st_mtime > (a.savedir / SAVE).stat().st_mtime

    report = cli_b.sync(policy="remote")
    assert SAVE in [c["path"] for c in report["conflicts"]]

    after = b.run([steps.slots(), steps.load("1-1", "rc_marker")])
    assert slot(after.first("slots"), "1-1")["save_name"] == "A: saved first"
    assert after.first("load")["store"] == {"rc_marker": "A: saved first"}

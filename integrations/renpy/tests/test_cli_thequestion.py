"""The `renpy-cloud` CLI alone, between runs of an unmodified real game
(Debian's renpy-thequestion, save directory `the_question-7`), on every engine.

Each assertion is about what the engine itself reports (its load screen's
slots, a loaded game's variables, persistent in effect), not about files.
"""

from harness import steps


def slot(run_slots, name):
    """The load-screen entry for slot `name`, or None."""
    return next((s for s in run_slots if s["slot"] == name), None)


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

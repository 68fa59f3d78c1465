"""The harness itself: it must fail loudly, and its save inspector must see
what a save holds (otherwise the scenarios that rely on them cannot fail)."""

import pytest

from harness import RenpyFailed, inspect_save, steps


def test_an_exception_in_the_game_fails_the_run_with_its_traceback(new_device):
    device = new_device("A")
    with pytest.raises(RenpyFailed) as failed:
        device.run([steps.slots(), steps.execute("raise ValueError('boom from the test')")])
    message = str(failed.value)
    assert "ValueError: boom from the test" in message
    assert "exit status" in message


def test_saves_hold_the_game_s_variables_and_nothing_of_the_driver(new_device, engine):
    device = new_device("A")
    run = device.run([
        steps.locations(),
        steps.set_vars(rc_marker="marker-7f3a"),
        steps.play("rightaway"),
        steps.save("1-1", "inspected"),
        steps.slots(),
    ])
    assert run.first("locations")["version"] == engine.version
    assert run.first("play")["stopped"] == "the game waits for the player"
    assert [s["save_name"] for s in run.first("slots") if s["slot"] == "1-1"] == ["inspected"]

    save = inspect_save(device.savedir / "1-1-LT1.save")
    assert save.contains("marker-7f3a"), "the inspector sees the store's strings"
    assert "store" in save.modules()
    assert not any("renpy_cloud_test_driver" in m for m in save.modules())
    assert not save.contains("RENPY_CLOUD_TEST")

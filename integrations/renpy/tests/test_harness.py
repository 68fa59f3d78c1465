"""The harness itself: it must fail loudly, and its save inspector must see
what a save holds (otherwise the scenarios that rely on them cannot fail)."""

from pathlib import Path

import pytest

from harness import RenpyFailed, inspect_save, steps


def test_an_exception_in_the_game_fails_the_run_with_its_traceback(new_device):
    device = new_device("A")
    with pytest.raises(RenpyFailed) as failed:
        device.run([steps.slots(), steps.execute("raise ValueError('boom from the test')")])
    message = str(failed.value)
    assert "ValueError: boom from the test" in message
    assert "exit status" in message


def test_a_game_that_hangs_is_killed_at_the_timeout_with_everything_it_started(new_device):
    device = new_device("A")
    with pytest.raises(RenpyFailed) as failed:
        device.run([steps.pause(120)], timeout=10)
    assert "timed out after 10 s" in str(failed.value)
    assert processes_mentioning(device.engine.engine_path(device.game_root)) == []


def processes_mentioning(text: str) -> list:
    """Command lines of running processes that contain `text`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def test_play_stops_where_asked_and_saves_hold_the_game_s_variables_and_nothing_of_the_driver(new_device, engine):
    device = new_device("A")
    run = device.run([
        steps.locations(),
        steps.set_vars(rc_marker="marker-7f3a"),
        steps.play("game", until="marry"),
        steps.play("rightaway"),
        steps.save("1-1", "inspected"),
        steps.slots(),
    ])
    assert run.first("locations")["version"] == engine.version
    assert run.all("play") == [
        {"stopped": "reached label marry", "labels": ["game", "marry"]},
        {"stopped": "the game waits for the player", "labels": ["rightaway"]},
    ]
    assert [s["save_name"] for s in run.first("slots") if s["slot"] == "1-1"] == ["inspected"]

    save = inspect_save(device.savedir / "1-1-LT1.save")
    assert save.contains("marker-7f3a"), "the inspector sees the store's strings"
    assert "store" in save.modules()
    assert not any("renpy_cloud_test_driver" in m for m in save.modules())
    assert not save.contains("RENPY_CLOUD_TEST")


def test_an_exception_in_a_background_thread_fails_the_run(new_device):
    device = new_device("A")
    with pytest.raises(RenpyFailed) as failed:
        device.run([
            steps.execute(
                "import threading\n"
                "def _fail():\n"
                "    raise RuntimeError('boom in a thread')\n"
                "_t = threading.Thread(target=_fail)\n"
                "_t.start()\n"
                "_t.join()\n"
            ),
        ])
    assert "background thread" in str(failed.value)
    assert "RuntimeError: boom in a thread" in str(failed.value)

"""The game starts and plays normally whatever the cloud does (server down,
server accepting but never answering, a garbage URL, no module), and quitting
never holds the window more than 2 s (measured from renpy.quit() to the
process's exit, Ren'Py's own shutdown included)."""

from __future__ import annotations

import pytest

from harness import steps
from support import FaultProxy
from test_integration_game import SLOT, Player, build_game, cloud_report

QUIT_LIMIT = 2.0


def quit_took(run) -> float:
    """Seconds from the driver's renpy.quit() to the process having exited."""
    return run.spawned_at + run.wall - run.result["times"]["finished"]


def play_and_save(marker):
    return [
        steps.pause(0.3),
        cloud_report(),
        steps.set_vars(tea_or_coffee=marker),
        steps.play("start"),
        steps.save("1-1", marker),
        steps.slots(),
    ]


@pytest.fixture
def proxy(server):
    p = FaultProxy(str(server.addr))
    yield p
    p.close()


@pytest.mark.parametrize("case", ["server down", "server silent", "garbage URL", "no module"])
def test_the_game_starts_plays_and_quits_normally_whatever_the_cloud_does(new_device, tmp_path, proxy, case):
    module = "none" if case == "no module" else "native"
    url = "not a url at all" if case == "garbage URL" else proxy.url
    device = new_device("A", build_game(tmp_path / "shipped", url, module))
    if case in ("server down", "server silent"):
        Player(proxy.url).sign_in(device)  # signed in, so start-up tries to pull
        proxy.mode = "refuse" if case == "server down" else "hang"

    run = device.run(play_and_save(case), timeout=120)
    report = run.first("eval")
    assert report["badge_shown"], report
    assert report["internal"] is None, report
    if case == "server down":
        assert report["badge"].startswith("Cloud: offline"), report
    elif case in ("garbage URL", "no module"):
        assert report["badge"] == "Cloud: off" and report["problem"], report
    assert run.first("play")["stopped"] == "the game waits for the player"
    assert [s["save_name"] for s in run.first("slots") if s["slot"] == "1-1"] == [case]
    # Start-up waits for the first pull at most cloud.boot_wait (5 s) when the
    # server is silent, and not at all otherwise.
    limit = 15.0 if case == "server silent" else 10.0
    assert run.main_menu_after < limit, "main menu {:.1f} s after the start".format(run.main_menu_after)
    took = quit_took(run)
    print("{} on {}: main menu after {:.1f} s, quit took {:.2f} s".format(
        case, device.engine.version, run.main_menu_after, took))
    assert took <= QUIT_LIMIT, "quit took {:.2f} s".format(took)

    loaded = device.run([steps.load("1-1", "tea_or_coffee")], timeout=120)
    assert loaded.first("load")["store"] == {"tea_or_coffee": case}
    assert quit_took(loaded) <= QUIT_LIMIT


@pytest.mark.parametrize("module", ["native", "cli"])
def test_quit_with_a_save_to_send_is_bounded_and_sends_it(new_device, tmp_path, server, module):
    game = build_game(tmp_path / "shipped", server.url, module)
    device, watcher = new_device("A", game), new_device("watcher", game)
    player = Player(server.url)
    player.sign_in(device)
    observer = player.sign_in(watcher)
    watcher.savedir.mkdir(parents=True)
    run = device.run([
        steps.wait("cloud.signed_in() and cloud.state.status.get('last_sync')", timeout=20),
        steps.set_vars(tea_or_coffee="tea"),
        steps.play("start"),
        steps.save("1-1", "just before quitting"),
    ])
    took = quit_took(run)
    print("{} on {}: quit with a save to send took {:.2f} s".format(module, device.engine.version, took))
    assert took <= QUIT_LIMIT, "quit took {:.2f} s".format(took)
    versions = observer.history("1-1" + SLOT)["versions"]
    assert [(v.get("meta") or {}).get("save_name") for v in versions if v.get("current")] == ["just before quitting"]

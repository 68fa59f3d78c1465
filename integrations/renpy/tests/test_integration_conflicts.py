"""Two devices save the same slot while offline. Under the default policy
(keep-both) both versions survive on both devices, the other device's on page
10 of the load screen; under "manual" the in-game chooser shows both sides,
with their screenshots, and the player's choice is what the engine then lists
and loads, the other version kept in the server's history."""

from __future__ import annotations

import pytest

from harness import run_parallel, steps
from support import FaultProxy
from test_integration_game import (SLOT, add_testcase, build_game, cloud_report, game_cli, note, notes, one_player,
                                   play_testcase)

MODULES = ["native", "cli"]
# Where slot 1-3 is in the chooser's list (the index its helpers take).
AT = "[c.path for c in cloud.state.conflicts].index('1-3-LT1.save')"


def save_offline(proxy, a, b):
    """A and B each save slot 1-3 (and their own marker) with the server unreachable."""
    proxy.mode = "refuse"
    run_parallel([
        (a, [steps.set_vars(tea_or_coffee="tea", endings_count=1), steps.play("start"), steps.save("1-3", "A offline")]),
        (b, [steps.set_vars(tea_or_coffee="coffee", endings_count=2), steps.play("start"), steps.save("1-3", "B offline")]),
    ])
    proxy.mode = "forward"


def names(slots):
    """The player's own saves (autosaves have no name) as (slot, save name)."""
    return sorted((s["slot"], s["save_name"]) for s in slots if s["save_name"])


@pytest.fixture
def proxy(server):
    p = FaultProxy(str(server.addr))
    yield p
    p.close()


@pytest.mark.parametrize("module", MODULES)
def test_keep_both_leaves_both_versions_on_both_devices(new_device, tmp_path, proxy, module):
    game = build_game(tmp_path / "shipped", proxy.url, module)
    a, b = new_device("A", game), new_device("B", game)
    one_player(proxy.url, a, b)
    save_offline(proxy, a, b)

    synced = "cloud.state.status.get('last_sync') and not cloud.state.status.get('syncing')"
    a.run([steps.wait(synced, timeout=20)])              # A's 1-3 is the server's
    on_b = b.run([steps.wait(synced, timeout=20), steps.slots()])  # B keeps its own, A's goes to page 10
    on_a = a.run([steps.wait(synced, timeout=20), steps.slots()])  # and A gets B's page-10 copy
    expected = [("1-3", "B offline"), ("10-1", "A offline")]
    assert names(on_b.first("slots")) == expected, "B: its own in its slot, A's on page 10"
    assert names(on_a.first("slots")) == expected, "A: the same two versions, each listed once"

    loaded = b.run([steps.load("10-1", "tea_or_coffee", "endings_count")])
    assert loaded.first("load")["store"] == {"tea_or_coffee": "tea", "endings_count": 1}, "A's game, on B"


@pytest.mark.parametrize("module", MODULES)
def test_the_conflict_chooser_shows_both_sides_and_keeps_the_choice(new_device, tmp_path, server, proxy, module):
    game = build_game(tmp_path / "shipped", proxy.url, module, options='define cloud.policy = "manual"')
    a, b = new_device("A", game), new_device("B", game)
    one_player(proxy.url, a, b)
    save_offline(proxy, a, b)
    a.run([steps.wait("cloud.state.status.get('last_sync')", timeout=20)])

    add_testcase(b, "choose", [
        '"Cloud saves"', "pause 0.3",
        '"Conflicts"', "pause 2.0",
        # The autosaves both devices made offline may be in conflict too.
        note("paths", "[c.path for c in cloud.state.conflicts]"),
        note("local", "cloud.conflict_side_text({}, 'local')".format(AT)),
        note("remote", "cloud.conflict_side_text({}, 'remote')".format(AT)),
        note("screenshots", "[cloud.state.conflicts[{0}].local_screenshot is not None,"
                            " cloud.state.conflicts[{0}].remote_screenshot is not None]".format(AT)),
        note("shown", "[type(cloud.conflict_screenshot({}, s)).__name__ for s in ('local', 'remote')]".format(AT)),
        '"Slot 1-3: keep the other one"', "pause 3.0",
        note("after", "[c.path for c in cloud.state.conflicts]"),
        note("message", "cloud.message_text()"),
        '"Close conflicts"', "pause 0.3",
        '"Close cloud saves"', "pause 0.3",
    ])
    run = b.run([
        steps.wait("cloud.state.status.get('pending_conflicts')", timeout=20),
        cloud_report(),
        *play_testcase("choose"),
        steps.wait("cloud.idle() and '1-3-LT1.save' not in cloud.state.status.get('pending_conflicts')"
                   " and not cloud.state.status.get('syncing')", timeout=20),
        steps.slots(),
    ])
    seen = notes(run)
    assert run.first("eval")["badge"] in ("Cloud: 1 conflict(s)", "Cloud: 2 conflict(s)")
    assert "1-3" + SLOT in seen["paths"], seen["paths"]
    assert "This computer" in seen["local"] and "B offline" in seen["local"], seen["local"]
    assert "The other device" in seen["remote"] and "A offline" in seen["remote"], seen["remote"]
    assert seen["screenshots"] == [True, True], "both sides' screenshots"
    assert seen["shown"] == ["Transform", "Transform"], "both drawn (a missing one would be a Null)"
    assert "1-3" + SLOT not in seen["after"], seen["message"]
    assert names(run.first("slots")) == [("1-3", "A offline")], "the kept version is what B's load screen lists"

    loaded = b.run([steps.load("1-3", "tea_or_coffee", "endings_count")])
    assert loaded.first("load")["store"] == {"tea_or_coffee": "tea", "endings_count": 1}, "and what it loads"

    history = game_cli(proxy.url, a).history("1-3" + SLOT)["versions"]
    kept = sorted((v.get("meta") or {}).get("save_name") for v in history if not v.get("deleted"))
    assert "B offline" in kept, "B's own version stays in the history: {}".format(kept)

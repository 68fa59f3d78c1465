"""Launch-to-main-menu time of a game on each real engine (a benchmark, not a test).

    cargo xtask renpy-bench [-n 7] [--game DIR] [--engines 8.0.3,8.3.4]
                            [--with-server] [--env KEY=VALUE ...] [--label TEXT]

"Main menu reached" is when Ren'Py runs `before_main_menu`, right before it shows the main
menu: every init block, the game's splashscreen and anything an integration does at start
(a boot pull) have run. Each engine gets one device (own HOME, own copy of the game): its
first launch (which creates the save folder and, on 8.1+, the save-token keys) is printed
apart; the figures are over the N launches after it, the device having played before, as a
returning player's computer has. Two figures per launch:

- `from spawn`: from starting the command (xvfb-run, which first starts Xvfb) to the main menu;
- `from process`: from the Ren'Py process's own start (/proc) to the main menu, without Xvfb.

`--with-server` starts the real renpy-cloud-server and replaces `{server}` in `--env` values
with its URL; an unreachable server is e.g. `--env RENPY_CLOUD_SERVER=http://127.0.0.1:9`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Device, Server, selected_engines  # noqa: E402


def measure(device: Device, launches: int, env: dict) -> dict:
    first = device.run([], env=env)
    spawn, process = [], []
    for _ in range(launches):
        run = device.run([], env=env)
        spawn.append(run.main_menu_after)
        started = run.result["times"].get("process_started")
        if started is not None:
            process.append(run.result["times"]["main_menu"] - started)
    return {"first": first.main_menu_after, "spawn": spawn, "process": process}


def summary(values: list) -> str:
    if not values:
        return "n/a"
    return "median {:.2f} s (min {:.2f}, max {:.2f})".format(statistics.median(values), min(values), max(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=7, help="launches measured per engine (after a first one)")
    parser.add_argument("--game", type=Path, help="the game's base folder (default: the engine's The Question)")
    parser.add_argument("--engines", help="comma-separated versions (default: RENPY_CLOUD_ENGINES or all)")
    parser.add_argument("--with-server", action="store_true", help="start the real server; {server} in --env")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment for the game")
    parser.add_argument("--label", default="", help="printed with the figures")
    args = parser.parse_args()
    if args.engines:
        os.environ["RENPY_CLOUD_ENGINES"] = args.engines
    server = None
    with tempfile.TemporaryDirectory(prefix="renpy-bench-") as tmp:
        if args.with_server:
            server = Server(Path(tmp) / "server-data").start()
        try:
            env = {}
            for item in args.env:
                key, _, value = item.partition("=")
                env[key] = value.replace("{server}", server.url if server else "{server}")
            for engine in selected_engines():
                engine.check()
                name = "renpy-bench-{}-{}".format(os.getpid(), engine.version)
                workspace = engine.workspace(Path(tmp) / name, Path(tmp))
                try:
                    figures = measure(Device(engine, workspace, "bench", args.game), args.n, env)
                finally:
                    if engine.chroot is not None:
                        shutil.rmtree(workspace, ignore_errors=True)
                label = " ({})".format(args.label) if args.label else ""
                print("Ren'Py {}{}: launch to main menu over {} launches".format(engine.version, label, args.n))
                print("  from spawn:   " + summary(figures["spawn"]))
                print("  from process: " + summary(figures["process"]))
                print("  first launch on a new device, from spawn: {:.2f} s".format(figures["first"]))
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()

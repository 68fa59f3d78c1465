"""What the desktop integration costs a player at launch, per real engine (a benchmark,
not a test).

    cargo xtask renpy-bench integration [-n 7] [--engines 8.0.3,8.3.4] [--module cli]
                                        [--wheel renpy_cloud-…whl]

The example game as a developer ships it (test_integration_game.build_game: the drop-ins
and the renpy_cloud package with its compiled module; `--module cli` for the fallback
program instead) in four set-ups, each on its own device (own HOME, own copy of the
game) that has launched once before, as a returning player's computer has:

- `without`: the same game with the drop-ins, the package and `define cloud.server` removed;
- `signed in`: signed in (the CLI, in the game's own session), everything already synced:
  the boot pull finds nothing to do;
- `refused`: signed in and synced, then the server is down (nothing listens on its port);
- `silent`: signed in and synced, then the port accepts connections and never answers;
  the start-up waits at most `cloud.boot_wait` (5 s) for the first pull, so this shows
  that bound.

Each figure is the median, over N launches, of the time from the Ren'Py process's start
(/proc) to `before_main_menu`, when every init block and the boot pull have run. The
goals: signed in adds <= 150 ms, an unreachable server <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[2] / "python" / "tests"))

from harness import Device, Server, selected_engines  # noqa: E402
from test_integration_game import SERVER_LINE, Player, build_game  # noqa: E402

DROP_INS = ("renpy_cloud.rpy", "renpy_cloud_web.rpy")


class SilentServer:
    """Accepts connections on `port` of 127.0.0.1 and never answers (holds them open)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.held: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def without_integration(root: Path) -> Path:
    game = root / "game"
    for name in DROP_INS:
        (game / name).unlink()
    shutil.rmtree(game / "python-packages", ignore_errors=True)
    shutil.rmtree(game / "renpy-cloud", ignore_errors=True)
    opts = game / "options.rpy"
    opts.write_text(SERVER_LINE.sub("", opts.read_text(encoding="utf-8-sig")), encoding="utf-8")
    return root


def launch_time(device: Device) -> float:
    """Seconds from the Ren'Py process's start to its main menu."""
    run = device.run([])
    started = run.result["times"].get("process_started")
    return run.result["times"]["main_menu"] - (started if started is not None else run.spawned_at)


def median_ms(values: List[float]) -> float:
    return statistics.median(values) * 1000


def bench_engine(engine, module: str, tmp: Path, n: int, server: Server) -> Dict[str, List[float]]:
    """Each set-up's first launch (which syncs everything), then the servers of `refused`
    and `silent` go away, then N rounds of one launch per set-up in turn (so a machine
    that slows down or speeds up meanwhile weighs on every set-up alike)."""
    workspace = engine.workspace(tmp / "renpy-bench-{}-{}".format(os.getpid(), engine.version), tmp)
    builds = tmp / "builds-{}".format(engine.version)
    silent: List[SilentServer] = []
    own: Dict[str, Server] = {}
    try:
        devices = {
            "without": Device(engine, workspace, "without",
                              without_integration(build_game(builds / "without", None, module))),
        }
        devices["signed in"] = Device(engine, workspace, "signed-in", build_game(builds / "signed-in", server.url, module))
        Player(server.url).sign_in(devices["signed in"])
        for name in ("refused", "silent"):
            # Its own server: signed in and synced while it runs, then it goes away.
            own[name] = Server(tmp / "server-{}-{}".format(name, engine.version)).start()
            devices[name] = Device(engine, workspace, name, build_game(builds / name, own[name].url, module))
            Player(own[name].url).sign_in(devices[name])
        for device in devices.values():
            launch_time(device)
        for name, gone in own.items():
            gone.stop()
            if name == "silent":
                silent.append(SilentServer(int(gone.url.rsplit(":", 1)[1])))
        figures: Dict[str, List[float]] = {name: [] for name in devices}
        for _ in range(n):
            for name, device in devices.items():
                figures[name].append(launch_time(device))
        return figures
    finally:
        for s in silent:
            s.close()
        if engine.chroot is not None:
            shutil.rmtree(workspace, ignore_errors=True)


def report(engine, module: str, n: int, figures: Dict[str, List[float]]) -> None:
    base = median_ms(figures["without"])
    print("Ren'Py {} (integration with {}): process start to main menu, median of {} launches".format(
        engine.version, "the compiled module" if module == "native" else "the CLI fallback", n))
    for name, values in figures.items():
        added: Optional[str] = None
        if name != "without":
            added = "{:+.0f} ms".format(median_ms(values) - base)
        print("  {:<10} {:>6.0f} ms (min {:.0f}, max {:.0f}){}".format(
            name, median_ms(values), min(values) * 1000, max(values) * 1000,
            "   added: " + added if added else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=7, help="launches measured per set-up (after a first one)")
    parser.add_argument("--engines", help="comma-separated versions (default: RENPY_CLOUD_ENGINES or all)")
    parser.add_argument("--module", choices=("native", "cli"), default="native",
                        help="the compiled module (default) or the CLI fallback")
    parser.add_argument("--wheel", type=Path, help="the renpy_cloud wheel to ship (default: the one "
                        "`cargo xtask python` built, a debug build; a player gets a release one)")
    args = parser.parse_args()
    if args.wheel:
        os.environ["RENPY_CLOUD_WHEEL"] = str(args.wheel.resolve())
    if args.engines:
        os.environ["RENPY_CLOUD_ENGINES"] = args.engines
    with tempfile.TemporaryDirectory(prefix="renpy-bench-") as tmp:
        server = Server(Path(tmp) / "server-data").start()
        try:
            for engine in selected_engines():
                engine.check()
                figures = bench_engine(engine, args.module, Path(tmp), args.n, server)
                report(engine, args.module, args.n, figures)
        finally:
            server.stop()


if __name__ == "__main__":
    main()

"""renpy-cloud's real-engine test harness: real Ren'Py engines, headless, each
simulated device with its own HOME and its own copy of a game, against the real
server and CLI. See ../README.md."""

from .cloud import Account, Cli, CliFailed, Server
from .device import Device
from .engines import Engine, EngineMissing, all_engines, selected_engines
from .runner import RenpyFailed, RunResult, run, run_parallel
from .savefile import inspect_persistent, inspect_save

__all__ = [
    "Account", "Cli", "CliFailed", "Server", "Device", "Engine", "EngineMissing", "all_engines",
    "selected_engines", "RenpyFailed", "RunResult", "run", "run_parallel", "inspect_persistent", "inspect_save",
]

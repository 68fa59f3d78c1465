"""Runs a device's game once, headless, with driver steps; fails loudly.

Every run leaves its files in `<device>/runs/NN-*`: the steps, the driver's
result JSON, the engine's output, and any traceback Ren'Py wrote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from .device import Device

DEFAULT_TIMEOUT = 90.0
# Ren'Py 8.0 writes traceback.txt beside the save directory (~/.renpy), later
# versions and parse errors (errors.txt) in the game's base folder.
ERROR_FILES = ("traceback.txt", "errors.txt")
PRINTED_TRACEBACK = "Traceback (most recent call last)"


class RenpyFailed(AssertionError):
    """The engine raised, timed out, exited non-zero or the driver did not finish."""


@dataclass
class RunResult:
    device: Device
    steps: List[Dict[str, Any]]
    returncode: Optional[int]
    wall: float
    spawned_at: float
    result: Dict[str, Any]
    output: str
    traceback: Optional[str]
    files: Path  # the run's files are <files>-steps.json, -result.json, -output.txt
    timed_out: bool = False
    problems: List[str] = field(default_factory=list)

    def records(self, op: str) -> List[Dict[str, Any]]:
        return [r for r in self.result.get("steps", []) if r["op"] == op]

    def first(self, op: str) -> Any:
        """The result of the first step `op`."""
        found = self.records(op)
        if not found:
            raise KeyError("no {!r} step ran; see {}-*".format(op, self.files))
        return found[0].get("result")

    def all(self, op: str) -> List[Any]:
        return [r.get("result") for r in self.records(op)]

    @property
    def prompts(self) -> List[Dict[str, str]]:
        """Confirm prompts the game showed (and the answer the driver gave)."""
        return self.result.get("prompts", [])

    @property
    def main_menu_after(self) -> float:
        """Seconds from spawning the process to the main menu being reached."""
        return self.result["times"]["main_menu"] - self.spawned_at

    def describe(self) -> str:
        lines = [
            "{} on Ren'Py {}: {}".format(self.device.name, self.device.engine.version, "; ".join(self.problems) or "ok"),
            "files: {}-*".format(self.files),
            "exit status {}, {:.1f} s".format(self.returncode, self.wall),
        ]
        if self.traceback:
            lines += ["", self.traceback.strip()]
        else:
            lines += ["", "last engine output:", tail(self.output, 40)]
        return "\n".join(lines)


def run(
    device: Device,
    steps: List[Dict[str, Any]],
    timeout: float = DEFAULT_TIMEOUT,
    answer: str = "yes",
    env: Optional[Dict[str, str]] = None,
    expect_failure: bool = False,
) -> RunResult:
    """Starts `device`'s game with `steps` (see harness.steps) and waits for it
    to quit. `answer` ("yes"/"no") answers every confirm prompt the game shows
    (recorded in RunResult.prompts). Raises RenpyFailed unless the run was
    clean; with `expect_failure`, returns the failed run instead (and raises
    if it was clean)."""
    prefix = next_run_prefix(device)
    result_file = with_suffix(prefix, "-result.json")
    output_file = with_suffix(prefix, "-output.txt")
    with_suffix(prefix, "-steps.json").write_text(json.dumps(steps, indent=1))
    error_paths = [device.home / ".renpy" / n for n in ERROR_FILES] + [device.game_root / n for n in ERROR_FILES]
    for p in error_paths:
        if p.exists():
            p.unlink()
    driver_env = {
        "RENPY_CLOUD_TEST_STEPS": json.dumps(steps),
        "RENPY_CLOUD_TEST_RESULT": device.engine.engine_path(result_file),
        "RENPY_CLOUD_TEST_ANSWER": answer,
    }
    driver_env.update(env or {})
    argv = device.engine.command(device.home, device.game_root, [], driver_env)
    timed_out = False
    with open(output_file, "wb") as out:
        spawned_at = time.time()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            # The game and Xvfb are grandchildren: wait until they are gone too.
            wait_until_group_gone(proc.pid, timeout=30)
        wall = time.time() - spawned_at
    found = [p for p in error_paths if p.exists()]
    traceback = "\n".join("== {} ==\n{}".format(p, p.read_text(errors="replace")) for p in found) or None
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    run = RunResult(device, steps, proc.returncode, wall, spawned_at, result, output_file.read_text(errors="replace"),
                    traceback, prefix, timed_out)
    if timed_out:
        run.problems.append("timed out after {:.0f} s".format(timeout))
    elif proc.returncode != 0:
        run.problems.append("exit status {}".format(proc.returncode))
    if traceback:
        run.problems.append("Ren'Py wrote " + ", ".join(p.name for p in found))
    if not result.get("finished"):
        run.problems.append("the driver did not finish its steps")
    if not traceback and PRINTED_TRACEBACK in run.output:
        # Ren'Py reports only the main thread's exceptions; a background
        # thread's is printed and the game goes on.
        run.problems.append("the engine printed a Python traceback (a background thread?)")
    if expect_failure:
        if not run.problems:
            raise RenpyFailed("expected a failure, but the run was clean\n" + run.describe())
    elif run.problems:
        raise RenpyFailed(run.describe())
    return run


def run_parallel(jobs, **options) -> List[RunResult]:
    """Runs [(device, steps), …] at the same time (independent devices only)."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run, device, steps, **options) for device, steps in jobs]
        return [f.result() for f in futures]


def wait_until_group_gone(pgid: int, timeout: float) -> None:
    """Waits until no live (non-zombie) process is left in process group `pgid`."""
    deadline = time.time() + timeout
    while live_members(pgid):
        if time.time() > deadline:
            raise RenpyFailed("processes of group {} survived SIGKILL: {}".format(pgid, live_members(pgid)))
        time.sleep(0.05)


def live_members(pgid: int) -> List[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the parenthesised command name: state, ppid, pgrp, …
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def next_run_prefix(device: Device) -> Path:
    runs = device.dir / "runs"
    runs.mkdir(exist_ok=True)
    n = len(list(runs.glob("*-steps.json"))) + 1
    return runs / "{:02d}".format(n)


def with_suffix(prefix: Path, suffix: str) -> Path:
    return prefix.with_name(prefix.name + suffix)


def tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])

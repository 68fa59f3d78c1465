"""Builders for the driver's steps (driver/renpy_cloud_test_driver.py runs them).

Steps that need no game in progress run before the main menu is shown; the
first step that needs one (`set`, `play`, `save`) starts a game the way the
main menu's Start button does, and the rest run in that game.
"""

from typing import Any, Dict, List, Optional


def slots(regexp: Optional[str] = None) -> Dict[str, Any]:
    """What the load screen would list: [{slot, save_name, json, mtime}]."""
    return {"op": "slots", "regexp": regexp}


def persistent(fields: List[str] = (), labels: List[str] = ()) -> Dict[str, Any]:
    """{fields: {name: value}, seen_labels: {label: renpy.seen_label}, seen_ever_count}."""
    return {"op": "persistent", "fields": list(fields), "labels": list(labels)}


def set_persistent(**fields: Any) -> Dict[str, Any]:
    """Sets persistent fields, then renpy.save_persistent()."""
    return {"op": "set_persistent", "fields": fields}


def store(*names: str) -> Dict[str, Any]:
    """{name: value} of store variables."""
    return {"op": "store", "names": list(names)}


def set_vars(**variables: Any) -> Dict[str, Any]:
    """Sets store variables in the game (starts one if needed)."""
    return {"op": "set", "vars": variables}


def play(label: str, until: Optional[str] = None) -> Dict[str, Any]:
    """Jumps to `label` and skips through the story as a player pressing Skip
    would (every line shown and marked seen) until it waits for the player (a
    menu), `until` is reached, or the story ends. Result: {stopped, labels}."""
    return {"op": "play", "label": label, "until": until}


def save(slot: str, name: str = "") -> Dict[str, Any]:
    """renpy.save(slot, name) after a screenshot, in the game."""
    return {"op": "save", "slot": slot, "name": name}


def load(slot: str, *variables: str) -> Dict[str, Any]:
    """renpy.load(slot) (fails unless renpy.can_load); the result, taken in an
    after-load callback, is {loaded, store: {variable: value}}."""
    return {"op": "load", "slot": slot, "vars": list(variables)}


def delete(slot: str) -> Dict[str, Any]:
    """renpy.unlink_save(slot), as the load screen's delete button does."""
    return {"op": "delete", "slot": slot}


def locations() -> Dict[str, Any]:
    """{version, savedir, save_directory, gamedir, locations, token_dir}."""
    return {"op": "locations"}


def evaluate(expr: str) -> Dict[str, Any]:
    """The value of a Python expression in the store."""
    return {"op": "eval", "expr": expr}


def execute(code: str) -> Dict[str, Any]:
    """Runs Python code in the store."""
    return {"op": "exec", "code": code}


def pause(seconds: float) -> Dict[str, Any]:
    """renpy.pause(seconds, hard=True): time passes in an interaction."""
    return {"op": "pause", "seconds": seconds}


def wait(expr: str, timeout: float = 10) -> Dict[str, Any]:
    """Keeps interacting until `expr` is true (fails after `timeout` s); the
    result is {after: seconds, value}."""
    return {"op": "wait", "expr": expr, "timeout": timeout}

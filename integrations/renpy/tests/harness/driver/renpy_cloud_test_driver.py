"""TEST-ONLY driver for renpy-cloud's real-engine suite (see ../../README.md).

Loaded by zz_renpy_cloud_test_driver.rpy. Reads a JSON list of steps from
RENPY_CLOUD_TEST_STEPS, performs them with public Ren'Py APIs, rewrites the JSON
result file RENPY_CLOUD_TEST_RESULT after every step, and quits with
renpy.quit() (so quit callbacks run) when the steps are done.

Its state lives in this module, never in the store: nothing of the driver is
pickled into a save, and a save the driver makes resumes (when loaded) at the
statement that made it, where the driver simply goes on with its next step.

A step that fails raises; the suite runs Ren'Py with RENPY_SIMPLE_EXCEPTIONS so
the engine writes traceback.txt and exits instead of showing its exception
screen. The step vocabulary is documented at STEPS below.
"""

import json
import os
import time
import traceback

import renpy
import store

STEPS_ENV = "RENPY_CLOUD_TEST_STEPS"
RESULT_ENV = "RENPY_CLOUD_TEST_RESULT"
GAME_LABEL = "_renpy_cloud_test_game"
BEFORE_MAIN_MENU_LABEL = "_renpy_cloud_test_before_main_menu"

api = renpy.exports
state = None


class DriverError(Exception):
    """A step could not do what it was asked; the message says why."""


class State(object):
    def __init__(self, steps, result_path):
        self.steps = steps
        self.next = 0
        self.result_path = result_path
        self.playing = None  # the running "play" step's record, or None
        self.loading = None  # the running "load" step's record, or None
        self.answer = os.environ.get("RENPY_CLOUD_TEST_ANSWER", "yes")
        self.result = {
            "finished": False,
            "times": {"driver_init": time.time(), "process_started": process_started()},
            "engine": engine_info(),
            "steps": [],
            "prompts": [],
        }

    def write(self):
        tmp = self.result_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.result, f, indent=1, sort_keys=True)
        os.replace(tmp, self.result_path)

    def take(self, where):
        """The next step (advancing past it) and its result record, or (None, None)."""
        if self.next >= len(self.steps):
            return None, None
        step = self.steps[self.next]
        self.next += 1
        record = {"op": step["op"], "where": where, "step": step}
        self.result["steps"].append(record)
        return step, record


def install():
    """Hooks the driver into the game when the suite gave it steps."""
    global state
    if STEPS_ENV not in os.environ:
        return
    config = renpy.config
    if api.has_label("before_main_menu"):
        raise DriverError("the game defines before_main_menu, which the driver needs")
    state = State(json.loads(os.environ[STEPS_ENV]), os.environ[RESULT_ENV])
    config.label_overrides["before_main_menu"] = BEFORE_MAIN_MENU_LABEL
    config.after_load_callbacks.append(after_load)
    config.periodic_callbacks.append(periodic)
    state.write()


def chain_label_callback():
    """config.label_callback is one function: wrap whatever the game (or a
    later init block) set, once all init code has run."""
    previous = renpy.config.label_callback

    def label_callback(name, abnormal):
        if previous is not None:
            previous(name, abnormal)
        reached_label(name)

    renpy.config.label_callback = label_callback


# --- where steps run -------------------------------------------------------


def before_main_menu():
    """Runs the steps that need no game; starts one for the first that does."""
    times = state.result["times"]
    if "main_menu" not in times:
        times["main_menu"] = time.time()
        # Ren'Py rebuilds its save locations after init (8.1+ adds sync/).
        state.result["engine"] = engine_info()
        chain_label_callback()
    if state.playing is not None:
        end_play("the story returned to the main menu")
    while True:
        if state.next >= len(state.steps):
            finish()
        if STEPS[state.steps[state.next]["op"]][1]:
            # What the main menu's Start button does.
            api.jump_out_of_context(GAME_LABEL)
        step, record = state.take("main_menu")
        run_step(step, record)


def game_step():
    """Runs one step inside the game (see the .rpy for why only one)."""
    step, record = state.take("game")
    if step is None:
        finish()
    run_step(step, record)


def run_step(step, record):
    state.write()
    func = STEPS[step["op"]][0]
    record["result"] = func(step, record)
    state.write()


def finish():
    state.result["times"]["finished"] = time.time()
    state.result["finished"] = True
    state.write()
    api.quit()


# --- callbacks ---------------------------------------------------------------


def periodic():
    """Runs many times a second during every interaction: answers confirm
    prompts and ends a "play" step when the game waits for the player."""
    if state is None:
        return
    prompt = showing_prompt()
    if prompt is not None:
        state.result["prompts"].append({"message": prompt, "answer": state.answer})
        state.write()
        api.end_interaction(state.answer == "yes")
    if state.playing is not None and not renpy.config.skipping:
        end_play("the game waits for the player")
        api.jump(GAME_LABEL)


def reached_label(name):
    if state is None or state.playing is None:
        return
    state.playing["labels"].append(name)
    if name == state.playing["step"].get("until"):
        end_play("reached label " + name)
        api.jump(GAME_LABEL)


def after_load():
    if state is None or state.loading is None:
        return
    record, state.loading = state.loading, None
    record["result"] = {
        "loaded": True,
        "store": {n: plain(getattr(store, n, None)) for n in record["step"].get("vars", [])},
    }
    state.write()


def showing_prompt():
    for name in ("confirm", "yesno_prompt"):
        screen = api.get_screen(name)
        if screen is not None:
            return str(screen.scope.get("message", ""))
    return None


# --- steps ---------------------------------------------------------------------


def step_slots(step, record):
    """What the load screen would list: every slot, its save name and json."""
    rv = []
    for slot in api.list_slots(step.get("regexp")):
        meta = api.slot_json(slot) or {}
        rv.append({
            "slot": slot,
            "save_name": meta.get("_save_name"),
            "json": plain(meta),
            "mtime": api.slot_mtime(slot),
        })
    return rv


def step_persistent(step, record):
    """Persistent fields, which labels were ever seen, how many statements."""
    p = store.persistent
    return {
        "fields": {f: plain(getattr(p, f)) for f in step.get("fields", [])},
        "seen_labels": {l: api.seen_label(l) for l in step.get("labels", [])},
        "seen_ever_count": len(p._seen_ever or {}),
    }


def step_set_persistent(step, record):
    for name, value in step["fields"].items():
        setattr(store.persistent, name, value)
    api.save_persistent()


def step_store(step, record):
    return {n: plain(getattr(store, n, None)) for n in step["names"]}


def step_set(step, record):
    for name, value in step["vars"].items():
        setattr(store, name, value)


def step_eval(step, record):
    return plain(eval(step["expr"], vars(store)))


def step_exec(step, record):
    exec(step["code"], vars(store))


def step_locations(step, record):
    return engine_info()


def step_play(step, record):
    """Plays from a label as a player pressing Skip would (every line is shown
    and marked seen) until the game waits for the player (a menu), the label
    `until` is reached, or the story returns to the main menu."""
    if not api.has_label(step["label"]):
        raise DriverError("no label " + step["label"])
    store._preferences.skip_unseen = True
    store._preferences.transitions = 0
    renpy.config.skip_delay = 0
    renpy.config.skipping = "slow"
    record["labels"] = []
    state.playing = record
    api.jump(step["label"])


def end_play(why):
    record, state.playing = state.playing, None
    renpy.config.skipping = None
    record["result"] = {"stopped": why, "labels": record.pop("labels")}
    state.write()


def step_save(step, record):
    api.take_screenshot()
    api.save(step["slot"], step.get("name", ""))
    return {"saved": step["slot"]}


def step_load(step, record):
    slot = step["slot"]
    if not api.can_load(slot):
        raise DriverError("cannot load {}: the engine lists {}".format(slot, api.list_slots()))
    state.loading = record
    state.write()
    # Does not return when the game loads (after_load() records the store);
    # returns when the player refused it (8.1+ asks about another device's save).
    api.load(slot)
    state.loading = None
    return {"loaded": False}


def step_delete(step, record):
    api.unlink_save(step["slot"])
    return {"listed_after": api.can_load(step["slot"])}


def step_pause(step, record):
    api.pause(step["seconds"], hard=True)


def step_wait(step, record):
    """Interacts (so periodic callbacks run) until `expr` is true."""
    start = time.time()
    while True:
        value = eval(step["expr"], vars(store))
        if value:
            return {"after": time.time() - start, "value": plain(value)}
        if time.time() - start > step.get("timeout", 10):
            raise DriverError("timed out waiting for " + step["expr"])
        api.pause(0.1, hard=True)


# op -> (function, needs a game in progress)
STEPS = {
    "slots": (step_slots, False),
    "persistent": (step_persistent, False),
    "set_persistent": (step_set_persistent, False),
    "store": (step_store, False),
    "eval": (step_eval, False),
    "exec": (step_exec, False),
    "locations": (step_locations, False),
    "load": (step_load, False),
    "delete": (step_delete, False),
    "pause": (step_pause, False),
    "wait": (step_wait, False),
    "set": (step_set, True),
    "play": (step_play, True),
    "save": (step_save, True),
}


# --- reporting -------------------------------------------------------------------


def engine_info():
    location = getattr(renpy.loadsave, "location", None)
    savetoken = getattr(renpy, "savetoken", None)
    return {
        "version": ".".join(str(i) for i in renpy.version_tuple[:3]),
        "version_tuple": list(renpy.version_tuple),
        "savedir": renpy.config.savedir,
        "save_directory": renpy.config.save_directory,
        "gamedir": renpy.config.gamedir,
        "locations": [l.directory for l in getattr(location, "locations", [])],
        "token_dir": getattr(savetoken, "token_dir", None),
    }


def process_started():
    """When this process started (Linux /proc), so launch timings can leave
    out what ran before Ren'Py (xvfb-run starting Xvfb); None elsewhere."""
    try:
        with open("/proc/self/stat") as f:
            # Field 22, counted after the parenthesised command name.
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def plain(value):
    """`value` as JSON: sets become sorted lists, other keys strings, objects repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return repr(value)

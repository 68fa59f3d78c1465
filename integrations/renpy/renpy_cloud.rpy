## renpy_cloud.rpy: cloud saves for a desktop Ren'Py game, as one drop-in file.
##
## Put this file in game/, the renpy_cloud package in game/python-packages/ and, where
## the compiled module cannot load, the renpy-cloud program in
## game/renpy-cloud/<linux|mac|windows>/. Then, in your own options.rpy:
##
##     define cloud.server = "https://saves.example.com"
##
## Optional, the same way: cloud.policy ("keep-both", "newest", "most-progress", "local",
## "remote" or "manual"), cloud.interval (seconds between background syncs),
## cloud.timeout (seconds before a silent server counts as offline), cloud.boot_wait
## (seconds the game may wait at start-up for the first pull). The game id is
## config.save_directory. See integrations/renpy/README.md.
##
## Rules this file keeps, because each one broke a real Ren'Py before:
## - Nothing here is saved with the game. The store is _constant (8.1+); 8.0 ignores
##   _constant, so no name in the store is rebound after init: the state lives on one
##   plain object, and screens keep no variables (their scope is pickled into saves).
## - Screen text interpolates nothing: helpers return finished, escaped strings
##   (8.0-8.1 cannot call functions in [...], 8.2+ evaluates [...] as Python).
## - Worker threads call only the client and a queue; Ren'Py is called from the main
##   thread only (the periodic callback).
## - Store code has Ren'Py's revertable list/dict/set for `list`, `dict`, `set` and
##   literals: isinstance checks use python_dict, long-lived state uses python_* types.
## - Ren'Py does not guard periodic or quit callbacks: every entry point here catches
##   everything, so the cloud can never crash or freeze the game.
## - A shown screen's buttons stay where they are: its frame has a fixed width and top
##   edge, Close is in its top right corner, and the lines that change by themselves
##   (status, messages) come after every button. A centred frame resized whenever a
##   status line changed, moving the buttons under the pointer: a click landed beside
##   the button it was aimed at.

init -10 python in cloud:
    _constant = True

    import base64
    import importlib.machinery
    import importlib.util
    import os
    import queue
    import sys
    import threading
    import time

    import store

    # Named stores do not see the main store's names: take what is used from it.
    renpy = store.renpy
    config = store.config
    Text = store.Text
    Null = store.Null
    Transform = store.Transform
    im = store.im
    InputValue = store.InputValue

    # Settings. A game sets them with `define cloud.<name> = ...` in its own files; a
    # define runs at init 0, after this block, and one at an earlier priority is kept.
    for _name, _value in (
        ("server", None),
        ("policy", "keep-both"),
        ("interval", 60.0),
        ("timeout", 10.0),
        ("boot_wait", 5.0),
        # Ren'Py's own quit takes 0.4-1 s: with this, the window closes within 2 s
        # even when the server never answers (what is not sent goes next time;
        # saves made during play were sent seconds after they were made).
        ("quit_wait", 0.8),
    ):
        globals().setdefault(_name, _value)

    # Start-up waits up to boot_wait for the first pull only once the server has answered;
    # before that, this long (a healthy server answers in well under a second).
    FIRST_ANSWER_WAIT = 0.75

    # The slot file names Ren'Py writes (history is asked for by file name).
    SLOT_SUFFIX = "-LT1.save"

    class _State(python_object):
        """Everything that changes while the game runs. A plain object (not Ren'Py's
        revertable one), created once at init: neither rollback nor saves see it."""

        def __init__(self):
            self.client = None         # the renpy_cloud client, once set up
            self.kind = None           # "native" (compiled module) or "cli" (program)
            self.problem = None        # why cloud saves are off, for the menu
            self.status = python_dict()  # the client's last status(), main thread only
            self.next_poll = 0.0
            self.message = ""          # the last thing to tell the player
            self.task = None           # the player action running in a thread
            self.finished = queue.Queue()  # (task, ok, value) handed back by threads
            self.conflicts = ()        # renpy_cloud Conflict tuples
            self.history_path = None
            self.history = ()          # version dicts, newest first
            self.internal_error = None  # the last unexpected exception, for the menu

    state = _State()

    class _Form(python_object):
        """What the player types into the sign-in screen, here rather than in a store or
        screen variable so that it is never pickled into a save."""

        def __init__(self):
            self.user = ""
            self.password = ""
            self.code = ""

    form = _Form()

    class FormValue(InputValue):
        """An input bound to one field of `form`. One object per field, made at init:
        Ren'Py 8.0 finds the editable input by identity."""

        def __init__(self, field, default=False):
            self.field = field
            self.default = default

        def get_text(self):
            return getattr(form, self.field)

        def set_text(self, s):
            setattr(form, self.field, s)
            renpy.restart_interaction()

    user_value = FormValue("user", default=True)
    password_value = FormValue("password")
    code_value = FormValue("code")

    # Setting up ----------------------------------------------------------------------

    def package_dir():
        return os.path.join(config.gamedir, "python-packages")

    def cli_path():
        """The renpy-cloud program bundled for this platform, if any."""
        exe = "renpy-cloud.exe" if renpy.windows else "renpy-cloud"
        plat = "windows" if renpy.windows else ("mac" if renpy.macintosh else "linux")
        candidate = os.path.join(config.gamedir, "renpy-cloud", plat, exe)
        return candidate if os.path.isfile(candidate) else None

    def import_module():
        """Imports renpy_cloud from game/python-packages by an explicit spec. Ren'Py's own
        importer (first on sys.meta_path) gives packages a relative __path__ on Ren'Py
        8.0.0-8.1.1, so the compiled _native next to __init__.py would never be found."""
        where = os.path.abspath(package_dir())
        loaded = sys.modules.get("renpy_cloud")
        if loaded is not None and os.path.dirname(getattr(loaded, "__file__", "") or "") == os.path.join(where, "renpy_cloud"):
            return loaded
        spec = importlib.machinery.PathFinder.find_spec("renpy_cloud", [where])
        if spec is None:
            raise ImportError("the renpy_cloud module is not installed in game/python-packages")
        module = importlib.util.module_from_spec(spec)
        sys.modules["renpy_cloud"] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop("renpy_cloud", None)
            raise
        return module

    def token_dir():
        """Ren'Py's save-token folder (8.1+; renpy.savetoken does not exist on 8.0)."""
        return getattr(getattr(renpy, "savetoken", None), "token_dir", None)

    def device_name():
        import platform
        return "{} ({})".format(platform.node() or "computer", config.name or "Ren'Py")

    def setup():
        """Creates the client. Returns False where this file has nothing to do (web and
        mobile builds, which have their own integration)."""
        if renpy.emscripten or renpy.mobile:
            state.problem = "cloud saves in this build come from the web integration"
            return False
        if not server:
            state.problem = "no server is set (the game needs define cloud.server in options.rpy)"
            return True
        try:
            module = import_module()
        except Exception as e:
            state.problem = str(e) if isinstance(e, ImportError) else "the renpy_cloud module could not be loaded ({})".format(describe(e))
            return True
        try:
            state.client, state.kind = module.open_client(
                server, config.save_directory or "game", config.savedir,
                cli=cli_path(), game_dir=config.gamedir, tokens_dir=token_dir(),
                policy=policy, interval=interval, timeout=timeout,
                device_name=device_name(),
            )
        except Exception as e:
            state.client, state.kind = None, None
            state.problem = describe(e)
        return True

    def boot():
        """Start-up, before the first screen: start the worker (it syncs at once) and,
        when signed in, wait at most boot_wait seconds for that first sync, so the load
        screen and persistent already have what it brought."""
        client = state.client
        refresh_status()
        client.start()
        results = python_list()
        if state.status.get("signed_in"):
            started = time.time()
            while True:
                results.extend(client.take_results())
                waited = time.time() - started
                if results or waited >= boot_wait:
                    break
                # A server that has not answered at all by now is down or unreachable:
                # start without it (the pull goes on in the background). The CLI client
                # cannot tell (None) until its sync is done.
                if waited >= FIRST_ANSWER_WAIT and client.status().get("reached_server") is False:
                    break
                time.sleep(0.01)
        refresh_status()
        apply_results(results)

    def install():
        """init 999: set up, pull, and hook into Ren'Py. Never raises."""
        try:
            if not setup():
                return
            config.always_shown_screens.append("cloud_badge")
            if state.client is None:
                return
            config.periodic_callbacks.append(periodic)
            config.quit_callbacks.append(at_quit)
            boot()
        except Exception as e:
            note_internal_error(e)

    # Applying what syncs did (main thread) ---------------------------------------------

    def refresh_status():
        try:
            st = state.client.status()
        except Exception as e:
            note_internal_error(e)
            return
        if isinstance(st, python_dict):
            state.status = st

    def trust_peer_keys():
        """Ren'Py 8.1+ ignores a persistent (and asks about a save) signed by a key it
        does not trust. The client appended the player's other devices' keys to
        security_keys.txt, which Ren'Py reads only at start: trust them in this session
        too. Must run before a synced persistent is merged."""
        trusted = getattr(getattr(renpy, "savetoken", None), "verifying_keys", None)
        if trusted is None:
            return
        for key in state.status.get("peer_keys") or ():
            try:
                der = base64.b64decode(key)
            except Exception:
                continue
            if der not in trusted:
                trusted.append(der)

    def apply_results(results):
        """Makes Ren'Py see what finished syncs changed: rescans the save locations (the
        client also wrote them into game/saves, which Ren'Py reads too) and merges a
        synced persistent field by field (register_persistent functions apply)."""
        changed = False
        merge = False
        for r in results:
            report = r.get("report") or {}
            for key in ("downloaded", "deleted_local", "conflicts"):
                if report.get(key):
                    changed = True
            if "persistent" in (report.get("merged") or ()) or "persistent" in (report.get("downloaded") or ()):
                merge = True
        if not (changed or merge):
            return
        trust_peer_keys()
        renpy.loadsave.location.scan()
        if merge:
            renpy.persistent.update()
        renpy.restart_interaction()

    def periodic():
        """config.periodic_callbacks, about 20 times a second."""
        try:
            handle_finished_tasks()
            now = time.time()
            if now < state.next_poll:
                return
            state.next_poll = now + 0.5
            before = visible_status()
            refresh_status()
            trust_peer_keys()
            apply_results(state.client.take_results())
            if visible_status() != before:
                renpy.restart_interaction()
        except Exception as e:
            note_internal_error(e)

    def at_quit():
        """config.quit_callbacks (after Ren'Py saved persistent): one last sync, never
        holding the window longer than quit_wait seconds."""
        try:
            if state.client is not None:
                state.client.shutdown(deadline=quit_wait)
        except Exception:
            pass

    def note_internal_error(e):
        state.internal_error = describe(e)
        try:
            print("renpy_cloud.rpy: " + state.internal_error)
        except Exception:
            pass

    def describe(e):
        """A player-readable line for an exception (the module's errors already are)."""
        text = str(e) or type(e).__name__
        if isinstance(e, (ImportError, AttributeError, TypeError, ValueError, KeyError, OSError)):
            text = "{}: {}".format(type(e).__name__, text)
        return text

    # Player actions: one at a time, in a thread; outcomes go back through a queue ------

    def run_task(name, fn, *args):
        """Runs fn(*args) in a thread. The thread only calls the client and puts the
        outcome in state.finished; handle_finished_tasks applies it on the main thread."""
        if state.client is None or state.task is not None:
            return
        state.task = name
        state.message = "Working..."

        def work():
            try:
                outcome = (name, True, fn(*args))
            except Exception as e:
                outcome = (name, False, describe(e))
            state.finished.put(outcome)

        t = threading.Thread(target=work, name="renpy-cloud " + name)
        t.daemon = True
        t.start()
        renpy.restart_interaction()

    def can_sign_in():
        """A click on a sign-in button does something only while nothing else runs
        and nobody is signed in (a second click, or one on a stale screen, is ignored)."""
        return state.client is not None and state.task is None and not signed_in()

    def sign_in():
        if can_sign_in():
            account_action("sign-in", state.client.login)

    def sign_up():
        if can_sign_in():
            account_action("sign-up", state.client.signup)

    def account_action(task, call):
        user, password = form.user.strip(), form.password
        if not user or not password:
            state.message = "Type your account name and password first."
            return
        form.password = ""
        run_task(task, call, user, password)

    def pair():
        if not can_sign_in():
            return
        code = form.code.strip()
        if not code:
            state.message = "Type the code your other computer shows first."
            return
        form.code = ""
        run_task("pair", state.client.pair, code)

    def make_pairing_code():
        run_task("pairing-code", state.client.pairing_code)

    def sign_out():
        run_task("sign-out", state.client.logout)

    def sync_now():
        if state.client is not None:
            state.client.request_sync()
            state.message = "Syncing..."

    def load_conflicts():
        run_task("conflicts", state.client.conflicts)

    def resolve(path, keep):
        client = state.client

        def work():
            client.resolve(path, keep)
            result = client.sync_now()
            return (path, keep, result, client.conflicts())

        run_task("resolve", work)

    def load_history(slot):
        path = slot + SLOT_SUFFIX
        state.history_path = path
        state.history = ()
        run_task("history", lambda: (path, state.client.history(path)))

    def restore_version(index):
        path = state.history_path
        version = state.history[index].get("version")
        client = state.client
        run_task("restore", lambda: (path, version, client.restore(path, version), client.history(path)))

    def handle_finished_tasks():
        while True:
            try:
                name, ok, value = state.finished.get_nowait()
            except queue.Empty:
                return
            state.task = None
            if not ok:
                state.message = value
            elif name in ("sign-in", "sign-up", "pair"):
                state.message = "Signed in as {}. Your saves sync from now on.".format((value or {}).get("username") or form.user)
                state.client.request_sync()
            elif name == "pairing-code":
                state.message = "On your other computer, choose \"Pair\" and enter {} (valid until {}).".format(value.get("code"), when(value.get("expires_at")))
            elif name == "sign-out":
                state.message = "Signed out on this computer."
            elif name == "conflicts":
                state.conflicts = tuple(value)
                state.message = "" if value else "No conflicts are waiting."
            elif name == "resolve":
                path, keep, result, remaining = value
                state.conflicts = tuple(remaining)
                state.message = "{}: {}.".format(slot_name(path).capitalize(), KEEP_DONE[keep])
                apply_results((result,) if isinstance(result, python_dict) else ())
            elif name == "history":
                path, rows = value
                if path == state.history_path:
                    state.history = tuple(rows)
                state.message = "" if rows else "No versions of {} on the server yet.".format(slot_name(path))
            elif name == "restore":
                path, version, report, rows = value
                state.history = tuple(rows)
                state.message = "{} is back to version {}; the one it replaced stays in the history.".format(slot_name(path).capitalize(), version)
                apply_results(({"report": report},) if isinstance(report, python_dict) else ())
            refresh_status()
            renpy.restart_interaction()

    KEEP_DONE = {
        "local": "kept this computer's save",
        "remote": "kept the other device's save",
        "both": "kept both (the other device's save is on page 10)",
    }

    # What the screens show. Every helper returns a finished string, escaped so Ren'Py
    # neither interpolates nor reads text tags in it. ----------------------------------

    def escape(s):
        return str(s).replace("[", "[[").replace("{", "{{")

    def panel_width():
        """The fixed width of the cloud screens' frames (never wider than the game)."""
        return min(1100, config.screen_width - 40)

    def idle():
        return state.task is None

    def signed_in():
        return bool(state.status.get("signed_in"))

    def badge_label():
        if state.client is None:
            return "Cloud: off"
        st = state.status
        if not st.get("signed_in"):
            return "Cloud: sign in"
        if st.get("pending_conflicts"):
            return "Cloud: {} conflict(s)".format(len(st["pending_conflicts"]))
        # Offline before syncing: the worker's retries would make the badge flicker.
        waiting = len(st.get("pending_uploads") or ())
        if st.get("offline"):
            return "Cloud: offline, {} waiting".format(waiting) if waiting else "Cloud: offline"
        if st.get("syncing"):
            frac = progress(st)
            return "Cloud: syncing {}%".format(int(frac * 100)) if frac is not None else "Cloud: syncing..."
        if st.get("last_error"):
            return "Cloud: problem (click)"
        return "Cloud: synced"

    def visible_status():
        """What a screen shows of the status; a change restarts the interaction."""
        st = state.status
        return (badge_label(), st.get("last_sync"), st.get("username"), state.message)

    def badge_displayable(st, at):
        # Redrawn twice a second without restarting the interaction.
        return Text(escape(badge_label()), size=18), 0.5

    def progress(st):
        p = st.get("progress") or {}
        total = p.get("bytes_total") or 0
        return (float(p.get("bytes_done") or 0) / total) if total else None

    def off_text():
        return escape("Cloud saves are off: {}.".format(state.problem or "unknown reason"))

    def account_text():
        st = state.status
        how = "the compiled module" if state.kind == "native" else "the renpy-cloud program"
        return escape("Signed in as {} (syncing through {}).".format(st.get("username") or "?", how))

    def sync_text():
        st = state.status
        lines = python_list()
        lines.append("Last sync: {}.".format(when(st.get("last_sync")) if st.get("last_sync") else "not yet"))
        waiting = len(st.get("pending_uploads") or ())
        if waiting:
            lines.append("Waiting to upload: {} file(s){}.".format(waiting, ", offline" if st.get("offline") else ""))
        error = st.get("last_error") or {}
        if error.get("message"):
            lines.append("Last problem: {}".format(error["message"]))
        if st.get("keys_error"):
            lines.append("Device keys: {}".format(st["keys_error"]))
        return escape("\n".join(lines))

    def message_text():
        text = state.message
        if state.internal_error:
            text = (text + "\n" if text else "") + "(internal: {})".format(state.internal_error)
        return escape(text)

    def recent_slots():
        """The eight most recently saved slots, newest first."""
        try:
            slots = python_list(renpy.list_slots())
            slots.sort(key=lambda s: renpy.slot_mtime(s) or 0, reverse=True)
            return tuple(slots[:8])
        except Exception:
            return ()

    def conflict_indexes():
        return tuple(range(len(state.conflicts)))

    def conflict_path(i):
        return state.conflicts[i].path

    def slot_name(path):
        """ "1-4-LT1.save" -> "slot 1-4", as the load screen would call it."""
        if path and path.endswith(SLOT_SUFFIX):
            return "slot " + path[:-len(SLOT_SUFFIX)]
        return path or "?"

    def conflict_title(i):
        return escape(slot_name(state.conflicts[i].path).capitalize())

    KEEP_LABELS = {
        "local": "Keep this computer's",
        "remote": "Keep the other one",
        "both": "Keep both (the other one goes to page 10)",
    }

    def keep_label(keep):
        return KEEP_LABELS[keep]

    def keep_alt(i, keep):
        """What self-voicing reads (and a testcase clicks): names the slot, since
        several conflicts may be listed."""
        return escape("{}: {}".format(slot_name(state.conflicts[i].path).capitalize(), KEEP_LABELS[keep].lower()))

    def conflict_side(i, side):
        c = state.conflicts[i]
        return c.local if side == "local" else c.remote

    def conflict_side_text(i, side):
        data = conflict_side(i, side)
        who = "This computer" if side == "local" else "The other device"
        if not data or data.get("deleted"):
            return escape("{}: deleted".format(who))
        meta = data.get("meta") or {}
        return escape("{}\n{}\nPlayed {}\nSaved {} on {}".format(
            who, meta.get("save_name") or "(no name)", play_time(meta),
            when(data.get("mtime")), data.get("device_name") or "?"))

    def conflict_screenshot(i, side):
        c = state.conflicts[i]
        data = c.local_screenshot if side == "local" else c.remote_screenshot
        if not data:
            return Null(width=256, height=144)
        name = "cloud-conflict-{}-{}.png".format(c.path.replace("/", "_"), side)
        return Transform(im.Data(data, name), xysize=(256, 144), fit="contain")

    def history_title():
        return escape("Versions of {} on the server".format(slot_name(state.history_path)))

    def history_indexes():
        return tuple(range(len(state.history)))

    def history_row_text(i):
        v = state.history[i]
        meta = v.get("meta") or {}
        tags = "current" if v.get("current") else ("deleted" if v.get("deleted") else "")
        return escape("v{}  {}  {}{}".format(
            v.get("version"), when(v.get("mtime") or v.get("committed_at")),
            meta.get("save_name") or "", "  ({})".format(tags) if tags else ""))

    def history_can_restore(i):
        v = state.history[i]
        return not v.get("current") and not v.get("deleted")

    def when(ms_or_s):
        """A time given in seconds or milliseconds since 1970, as local time."""
        if not ms_or_s:
            return "unknown time"
        seconds = ms_or_s / 1000.0 if ms_or_s > 1e11 else ms_or_s
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))

    def play_time(meta):
        secs = int((meta or {}).get("game_runtime") or 0)
        return "{}:{:02d}:{:02d}".format(secs // 3600, secs // 60 % 60, secs % 60)

init 999 python:
    # After the game's own defines (cloud.server in options.rpy) and before the first
    # screen. (-999..999 is the range lint accepts for game code.)
    cloud.install()

## Screens ###################################################################################

style cloud_frame is frame:
    padding (24, 18)
    background Solid("#101820ee")

style cloud_text is text:
    size 20

style cloud_button is button
style cloud_button_text is button_text:
    size 20

style cloud_field is button:
    xsize 360
    padding (6, 4)
    background Solid("#ffffff18")
    hover_background Solid("#ffffff30")
    selected_background Solid("#ffffff40")

## The badge in the top right corner, on every screen (main menu and game menu too).
screen cloud_badge():
    zorder 100
    button:
        xalign 1.0 yalign 0.0
        padding (10, 4)
        background Solid("#000000aa")
        hover_background Solid("#303848cc")
        alt "Cloud saves"
        action Show("cloud_menu")
        add DynamicDisplayable(cloud.badge_displayable)

screen cloud_menu():
    modal True
    zorder 200
    style_prefix "cloud"
    key "game_menu" action Hide("cloud_menu")
    # Fixed width and top edge; what changes by itself comes after every button.
    frame:
        xalign 0.5 yanchor 0.0 ypos 0.08
        xsize cloud.panel_width()
        fixed:
          yfit True
          vbox:
            spacing 12
            label "Cloud saves"
            if cloud.state.client is None:
                text cloud.off_text()
            elif not cloud.signed_in():
                text "Sign in to keep your saves on every computer you play on."
                hbox:
                    spacing 10
                    text "Name" min_width 130
                    button:
                        style "cloud_field"
                        alt "Cloud account name"
                        key_events True
                        action cloud.user_value.Enable()
                        input value cloud.user_value length 40
                hbox:
                    spacing 10
                    text "Password" min_width 130
                    button:
                        style "cloud_field"
                        alt "Cloud password"
                        key_events True
                        action cloud.password_value.Enable()
                        input value cloud.password_value mask "*" length 128
                hbox:
                    spacing 16
                    textbutton "Sign in" action Function(cloud.sign_in) sensitive cloud.idle()
                    textbutton "Create account" action Function(cloud.sign_up) sensitive cloud.idle()
                text "Or pair this computer with a code from one that is signed in:"
                hbox:
                    spacing 10
                    text "Code" min_width 130
                    button:
                        style "cloud_field"
                        alt "Cloud pairing code"
                        key_events True
                        action cloud.code_value.Enable()
                        input value cloud.code_value length 16
                    textbutton "Pair" action Function(cloud.pair) sensitive cloud.idle()
            else:
                text cloud.account_text()
                hbox:
                    spacing 16
                    textbutton "Sync now" action Function(cloud.sync_now)
                    textbutton "Conflicts" action [Function(cloud.load_conflicts), Show("cloud_conflicts")] sensitive cloud.idle()
                    textbutton "Pair another computer" action Function(cloud.make_pairing_code) sensitive cloud.idle()
                    textbutton "Sign out" action Function(cloud.sign_out) sensitive cloud.idle()
                if cloud.recent_slots():
                  hbox:
                    spacing 12
                    text "Older versions of:"
                    for slot in cloud.recent_slots():
                        textbutton slot action [Function(cloud.load_history, slot), Show("cloud_history")] sensitive cloud.idle()
                text cloud.sync_text()
            if cloud.state.message or cloud.state.internal_error:
                text cloud.message_text() size 18
          textbutton "Close" alt "Close cloud saves" xalign 1.0 action Hide("cloud_menu")

## Conflicts left for the player (policy "manual"): both sides with their screenshots.
screen cloud_conflicts():
    modal True
    zorder 210
    style_prefix "cloud"
    key "game_menu" action Hide("cloud_conflicts")
    frame:
        xalign 0.5 yanchor 0.0 ypos 0.08
        xsize cloud.panel_width()
        fixed:
          yfit True
          vbox:
            spacing 12
            label "Two versions of the same save"
            viewport:
                xmaximum 1050
                ymaximum 520
                scrollbars "vertical"
                mousewheel True
                vbox:
                    spacing 16
                    for i in cloud.conflict_indexes():
                        vbox:
                            spacing 8
                            text cloud.conflict_title(i)
                            hbox:
                                spacing 32
                                for side in ("local", "remote"):
                                    vbox:
                                        spacing 6
                                        add cloud.conflict_screenshot(i, side)
                                        text cloud.conflict_side_text(i, side) size 18
                                        textbutton cloud.keep_label(side) alt cloud.keep_alt(i, side) action Function(cloud.resolve, cloud.conflict_path(i), side) sensitive cloud.idle()
                            textbutton cloud.keep_label("both") alt cloud.keep_alt(i, "both") action Function(cloud.resolve, cloud.conflict_path(i), "both") sensitive cloud.idle()
            if not cloud.state.conflicts:
                text cloud.message_text()
          textbutton "Close" alt "Close conflicts" xalign 1.0 action Hide("cloud_conflicts")

## Every version of one slot kept on the server; any can be made current again.
screen cloud_history():
    modal True
    zorder 210
    style_prefix "cloud"
    key "game_menu" action Hide("cloud_history")
    frame:
        xalign 0.5 yanchor 0.0 ypos 0.08
        xsize cloud.panel_width()
        fixed:
          yfit True
          vbox:
            spacing 8
            label cloud.history_title()
            viewport:
                xmaximum 1050
                ymaximum 480
                scrollbars "vertical"
                mousewheel True
                vbox:
                    spacing 6
                    for i in cloud.history_indexes():
                        hbox:
                            spacing 16
                            text cloud.history_row_text(i)
                            if cloud.history_can_restore(i):
                                textbutton "Restore" action Function(cloud.restore_version, i) sensitive cloud.idle()
            if cloud.state.message:
                text cloud.message_text() size 18
          textbutton "Close" alt "Close history" xalign 1.0 action Hide("cloud_history")

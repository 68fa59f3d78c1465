## renpy_cloud.rpy: cloud saves for a desktop Ren'Py game, as one drop-in file.
##
## Needs the renpy_cloud package in game/python-packages/ (pip install --target
## game/python-packages renpy_cloud-*.whl), or where the compiled module cannot load, the
## renpy-cloud program in game/renpy-cloud/<platform>/ (see example_game/README.md).
##
## Set the server below (or in your own file with `define cloud.server = "..."`).
## Everything else has defaults: the game id is config.save_directory, the save folder is
## config.savedir, the player signs in once per computer (the session is shared with the
## renpy-cloud command line).

define cloud.server = "http://127.0.0.1:8787"
define cloud.policy = "keep-both"
define cloud.interval = 60.0
define cloud.timeout = 10.0
## Seconds the game waits at start-up for the first pull (before the load screen reads
## the save list). The background worker carries on if it takes longer.
define cloud.boot_wait = 5.0

init -10 python in cloud:
    import base64
    import os
    import sys
    import threading
    import time

    import store

    # Named stores do not see the main store's names: take what is used from it.
    renpy = store.renpy
    config = store.config

    client = None          # renpy_cloud.NativeClient or CliClient, once set up
    kind = None            # "native", "cli" or None (cloud saves unavailable)
    problem = None         # why cloud saves are unavailable, for the menu screen
    message = ""           # the last thing to tell the player
    busy = False           # a sign-in or history call is running
    history_path = None
    history_rows = []
    conflict_rows = []
    pairing = None
    _last_save_mtime = 0.0
    _last_check = 0.0

    def package_dir():
        return os.path.join(config.gamedir, "python-packages")

    def cli_path():
        """The renpy-cloud program for this platform, if bundled or configured."""
        env = os.environ.get("RENPY_CLOUD_CLI")
        if env and os.path.isfile(env):
            return env
        exe = "renpy-cloud.exe" if renpy.windows else "renpy-cloud"
        plat = "windows" if renpy.windows else ("mac" if renpy.macintosh else "linux")
        candidate = os.path.join(config.gamedir, "renpy-cloud", plat, exe)
        return candidate if os.path.isfile(candidate) else None

    def load_package():
        """Imports renpy_cloud. Ren'Py's importer indexes only .py files, so the package's
        real folder goes on sys.path for the compiled _native module to be found."""
        where = package_dir()
        if os.path.isdir(where) and where not in sys.path:
            sys.path.insert(0, where)
        import renpy_cloud
        return renpy_cloud

    def setup():
        global client, kind, problem
        if renpy.emscripten or renpy.mobile:
            problem = "cloud saves here are provided by the web integration"
            return
        try:
            rc = load_package()
            client, kind = rc.open_client(
                server, config.save_directory or "game", config.savedir,
                cli=cli_path(), policy=policy, interval=interval, timeout=timeout,
                device_name=device_name(),
            )
        except Exception as e:
            client, kind, problem = None, None, str(e)
            return
        trust_setup()

    def device_name():
        import platform
        return "{} ({})".format(platform.node() or "computer", config.name or "Ren'Py")

    def trust_setup():
        """Publish this computer's save-token key so the player's other devices trust
        synced saves and persistent; learn theirs (applied in trust_peers)."""
        try:
            keys = renpy.get_save_token_keys()
            tokens = getattr(renpy.savetoken, "token_dir", None)
            if keys:
                client.set_device_keys(keys, tokens)
        except Exception:
            pass

    def trust_peers(status):
        """Trust the other devices' keys in this session too (security_keys.txt is read
        only at start-up)."""
        trusted = getattr(renpy.savetoken, "verifying_keys", None)
        if trusted is None:
            return
        for k in status.get("peer_keys") or []:
            try:
                der = base64.b64decode(k)
            except Exception:
                continue
            if der not in trusted:
                trusted.append(der)

    def status():
        if client is None:
            return None
        try:
            return client.status()
        except Exception:
            return None

    def boot_pull():
        """Start-up: one sync before the main menu (bounded wait), then the worker."""
        if client is None:
            return
        st = status() or {}
        if st.get("signed_in"):
            done = []
            t = threading.Thread(target=lambda: done.append(client.sync_now()))
            t.daemon = True
            t.start()
            t.join(boot_wait)
        client.start()
        apply_results()

    def apply_results():
        """After syncs: make Ren'Py see new slots and merge a downloaded persistent."""
        if client is None:
            return
        try:
            results = client.take_results()
        except Exception:
            return
        changed = False
        persistent_paths = []
        for r in results:
            report = r.get("report") or {}
            for p in report.get("downloaded") or []:
                changed = True
                if p == "persistent":
                    persistent_paths.append(os.path.join(config.savedir, "persistent"))
            for c in report.get("conflicts") or []:
                changed = True
                copy = c.get("kept_copy")
                if copy == "sync/persistent":
                    persistent_paths.append(os.path.join(config.savedir, "sync", "persistent"))
        if persistent_paths:
            merge_persistent(persistent_paths)
        if changed:
            try:
                renpy.loadsave.location.scan()
            except Exception:
                pass
            renpy.restart_interaction()

    def merge_persistent(paths):
        """Ren'Py merges a persistent file found in a save location when its mtime is newer
        than what it loaded last: touch the synced copies, rescan, then update (which merges
        per field with the registered merge functions and saves)."""
        now = time.time()
        for p in paths:
            try:
                os.utime(p, (now, now))
            except OSError:
                pass
        try:
            renpy.loadsave.location.scan()
            renpy.persistent.update()
        except Exception:
            pass

    def newest_save_mtime():
        newest = 0.0
        try:
            for entry in os.scandir(config.savedir):
                if entry.name.endswith(".save") or entry.name == "persistent":
                    newest = max(newest, entry.stat().st_mtime)
        except OSError:
            pass
        return newest

    def periodic():
        """~20 Hz from config.periodic_callbacks; work only every 2 s. Detects new saves
        (config.save_callbacks exists only on Ren'Py master) and applies finished syncs."""
        global _last_check, _last_save_mtime
        if client is None:
            return
        now = time.time()
        if now - _last_check < 2.0:
            return
        _last_check = now
        newest = newest_save_mtime()
        if newest > _last_save_mtime:
            if _last_save_mtime:
                client.request_sync()
            _last_save_mtime = newest
        st = status()
        if st:
            trust_peers(st)
        apply_results()

    def final_sync():
        """At quit, after Ren'Py saved persistent: one last sync, bounded by the timeout."""
        if client is None:
            return
        try:
            client.stop()
            st = client.status()
            if st.get("signed_in"):
                client.sync_now()
        except Exception:
            pass

    # Player actions (run in a thread by the screens; results land in the store) -------

    def run_in_thread(fn, *args):
        global busy, message
        if busy or client is None:
            return
        busy = True
        message = "Working…"

        def work():
            global busy, message
            try:
                message = fn(*args) or ""
            except Exception as e:
                message = str(e)
            busy = False

        renpy.invoke_in_thread(work)

    def do_login(user, password, create):
        account = client.signup(user, password) if create else client.login(user, password)
        trust_setup()
        return "Signed in as {}.".format(account["username"])

    def do_pair(code):
        account = client.pair(code)
        trust_setup()
        return "This computer is now paired with {}.".format(account["username"])

    def do_pairing_code():
        global pairing
        pairing = client.pairing_code()
        return "Enter this code on your other computer: {}".format(pairing["code"])

    def do_logout():
        client.logout()
        return "Signed out."

    def do_history(path):
        global history_path, history_rows
        history_path = path
        history_rows = client.history(path)
        return ""

    def do_restore(path, version):
        client.restore(path, version)
        apply_results()
        renpy.loadsave.location.scan()
        return "Restored {} to version {}.".format(path, version)

    def do_conflicts():
        global conflict_rows
        conflict_rows = client.conflicts()
        return "" if conflict_rows else "No conflicts."

    def do_resolve(path, keep):
        client.resolve(path, keep)
        client.sync_now()
        apply_results()
        return do_conflicts()

    # Display helpers --------------------------------------------------------------------

    def badge_text(st):
        if client is None:
            return "Cloud: off"
        if not st or not st.get("signed_in"):
            return "Cloud: sign in"
        if st.get("pending_conflicts"):
            return "Cloud: {} conflict(s)".format(len(st["pending_conflicts"]))
        if st.get("syncing"):
            return "Cloud: syncing…"
        if st.get("offline"):
            return "Cloud: offline, {} waiting".format(len(st.get("pending_uploads") or []))
        if st.get("last_error"):
            return "Cloud: " + st["last_error"]["message"][:40]
        return "Cloud: synced"

    def progress_of(st):
        p = (st or {}).get("progress") or {}
        total = p.get("bytes_total") or 0
        return (float(p.get("bytes_done") or 0) / total) if total else None

    def when(ms_or_s):
        if not ms_or_s:
            return "unknown time"
        seconds = ms_or_s / 1000.0 if ms_or_s > 1e11 else ms_or_s
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))

    def play_time(meta):
        secs = int((meta or {}).get("game_runtime") or 0)
        return "{}:{:02d}:{:02d}".format(secs // 3600, secs // 60 % 60, secs % 60)

    def screenshot(data, name):
        if not data:
            return Null(width=192, height=108)
        return Transform(im.Data(data, name + ".png"), xysize=(192, 108), fit="contain")

    Null = store.Null
    Transform = store.Transform
    im = store.im

init 1200 python:
    # After 00sync (init 1100) added <savedir>/sync as a save location.
    cloud.setup()
    if cloud.client is not None:
        cloud.boot_pull()
        config.periodic_callbacks.append(cloud.periodic)
        config.quit_callbacks.append(cloud.final_sync)
        config.overlay_screens.append("cloud_badge")

## Screens ###################################################################################

default cloud_user = ""
default cloud_password = ""
default cloud_code = ""

screen cloud_badge():
    zorder 100
    $ st = cloud.status()
    $ frac = cloud.progress_of(st)
    frame:
        xalign 1.0 yalign 0.0
        padding (8, 4)
        vbox:
            textbutton cloud.badge_text(st):
                text_size 16
                action Show("cloud_menu")
            if frac is not None:
                bar value frac range 1.0 xsize 160 ysize 6

screen cloud_menu():
    modal True
    zorder 200
    $ st = cloud.status() or {}
    frame:
        xalign 0.5 yalign 0.5
        padding (24, 18)
        vbox:
            spacing 10
            label "Cloud saves"
            if cloud.client is None:
                text "Unavailable: [cloud.problem!q]"
            elif not st.get("signed_in"):
                use cloud_signin
            else:
                text "Signed in as [st[username]!q] ([cloud.kind])"
                text "Last sync: [cloud.when(st.get('last_sync'))]"
                if st.get("pending_uploads"):
                    text "Waiting to upload: [len(st['pending_uploads'])] file(s)"
                hbox:
                    spacing 12
                    textbutton "Sync now" action Function(cloud.client.request_sync)
                    textbutton "Conflicts" action [Function(cloud.run_in_thread, cloud.do_conflicts), Show("cloud_conflicts")]
                    textbutton "Pair another computer" action Function(cloud.run_in_thread, cloud.do_pairing_code)
                    textbutton "Sign out" action Function(cloud.run_in_thread, cloud.do_logout)
                hbox:
                    spacing 12
                    text "History of slot:"
                    for slot in ("1-1", "1-2", "1-3", "auto-1", "quick-1"):
                        textbutton slot action [Function(cloud.run_in_thread, cloud.do_history, slot + "-LT1.save"), Show("cloud_history")]
            if cloud.message:
                text "[cloud.message!q]" size 18
            textbutton "Close" action Hide("cloud_menu")

screen cloud_signin():
    vbox:
        spacing 8
        hbox:
            text "User: "
            button:
                key_events True
                input value VariableInputValue("cloud_user", returnable=False) length 40
        hbox:
            text "Password: "
            button:
                key_events True
                input value VariableInputValue("cloud_password", returnable=False) mask "•" length 64
        hbox:
            spacing 12
            textbutton "Sign in" action Function(cloud.run_in_thread, cloud.do_login, cloud_user, cloud_password, False)
            textbutton "Create account" action Function(cloud.run_in_thread, cloud.do_login, cloud_user, cloud_password, True)
        hbox:
            text "Or a pairing code from your other computer: "
            button:
                key_events True
                input value VariableInputValue("cloud_code", returnable=False) length 16
            textbutton "Pair" action Function(cloud.run_in_thread, cloud.do_pair, cloud_code)

screen cloud_conflicts():
    modal True
    zorder 210
    frame:
        xalign 0.5 yalign 0.5
        padding (24, 18)
        vbox:
            spacing 12
            label "Two versions of the same save"
            if not cloud.conflict_rows:
                text "No conflicts waiting."
            for c in cloud.conflict_rows:
                text "[c.path!q]"
                hbox:
                    spacing 24
                    for side, data, keep in ((c.local, c.local_screenshot, "local"), (c.remote, c.remote_screenshot, "remote")):
                        vbox:
                            add cloud.screenshot(data, c.path + keep)
                            if side is None:
                                text "(deleted)"
                            else:
                                text "[(side.get('meta') or {}).get('save_name') or 'unnamed'!q]"
                                text "Played [cloud.play_time(side.get('meta'))]"
                                text "On [side.get('device_name') or side.get('device_id') or '?'!q]"
                                text "Saved [cloud.when(side.get('mtime'))]"
                            textbutton ("Keep this computer's" if keep == "local" else "Keep the other one") action Function(cloud.run_in_thread, cloud.do_resolve, c.path, keep)
                textbutton "Keep both (the other goes to page 10)" action Function(cloud.run_in_thread, cloud.do_resolve, c.path, "both")
            textbutton "Close" action Hide("cloud_conflicts")

screen cloud_history():
    modal True
    zorder 210
    frame:
        xalign 0.5 yalign 0.5
        padding (24, 18)
        vbox:
            spacing 6
            label "History of [cloud.history_path!q]"
            for v in cloud.history_rows:
                hbox:
                    spacing 16
                    text "v[v['version']]"
                    text "[(v.get('meta') or {}).get('save_name') or '' !q]"
                    text "[cloud.when(v.get('mtime') or v.get('committed_at'))]"
                    if v.get("current"):
                        text "(current)"
                    elif not v.get("deleted"):
                        textbutton "Restore" action Function(cloud.run_in_thread, cloud.do_restore, cloud.history_path, v["version"])
            textbutton "Close" action Hide("cloud_history")

## renpy_cloud_web.rpy: renpy-cloud screens for web builds.
##
## The sync itself runs in the page (renpy-cloud.js, added by `cargo xtask web-inject`):
## saves are pulled before the game boots and pushed after every save. This file lets
## players sign in, pair a browser and settle conflicts from Ren'Py screens, through
## renpy.emscripten.run_script*: add a button with `action Show("renpy_cloud")`.
## On desktop builds (no renpy.emscripten) it does nothing, so it can sit next to
## renpy_cloud.rpy in the same game.
##
## Like renpy_cloud.rpy: the store is never saved (_constant; and no name in it is
## rebound after init, for 8.0 which ignores _constant), what the player types lives on
## a plain object rather than in store or screen variables, and screen text only shows
## finished strings from the helpers (no [expression] interpolation).

init -10 python in renpy_cloud:
    _constant = True

    import json
    import time

    import store

    # Named stores do not see the main store's names: take what is used from it.
    renpy = store.renpy
    Action = store.Action
    InputValue = store.InputValue

    class _Form(python_object):
        """What the player types, never pickled into a save."""

        def __init__(self):
            self.user = ""
            self.password = ""
            self.code = ""

    form = _Form()

    class FormValue(InputValue):
        """An input bound to one field of `form` (one object per field, made at init:
        Ren'Py 8.0 finds the editable input by identity)."""

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

    class _Cache(python_object):
        """The glue's status, read at most every 0.2 s (screens ask several times)."""

        def __init__(self):
            self.at = 0.0
            self.status = None
            self.last = None

    cache = _Cache()

    def available():
        """True on the web, when the glue script is loaded."""
        em = renpy.emscripten
        if not em:
            return False
        try:
            return em.run_script_int("window.RenpyCloud ? 1 : 0") == 1
        except Exception:
            return False

    def _call(method, *args):
        """Starts RenpyCloud.<method>(*args); its outcome lands in window._renpyCloudLast."""
        if not available():
            return
        js = (
            "window._renpyCloudLast = {op: %s, pending: true};"
            "RenpyCloud[%s](...%s).then("
            "r => window._renpyCloudLast = {op: %s, ok: true, result: r},"
            "e => window._renpyCloudLast = {op: %s, ok: false, error: String(e && e.message || e)});"
        ) % (json.dumps(method), json.dumps(method), json.dumps(python_list(args)),
             json.dumps(method), json.dumps(method))
        renpy.emscripten.run_script(js)
        cache.at = 0.0

    def _json(expr):
        if not available():
            return None
        try:
            raw = renpy.emscripten.run_script_string("JSON.stringify(%s)" % expr)
            return json.loads(raw) if raw else None
        except Exception:
            return None

    def _refresh():
        now = time.time()
        if now - cache.at >= 0.2:
            cache.at = now
            cache.status = _json("RenpyCloud.status()")
            cache.last = _json("window._renpyCloudLast || null")

    def status():
        """The glue's status dict (phase, account, pendingConflicts, error...), or None."""
        _refresh()
        return cache.status

    def last():
        """Outcome of the last action started from Ren'Py: {op, ok, error|result} or None."""
        _refresh()
        return cache.last

    class Call(Action):
        """Action: RenpyCloud.<method>(*args), e.g. Call("resolve", path, "keep-both")."""

        def __init__(self, method, *args):
            self.method = method
            self.args = args

        def __call__(self):
            _call(self.method, *self.args)
            renpy.restart_interaction()

    # Actions that read what was typed when clicked (so it is not kept in the action).

    def sign_in():
        user, password = form.user.strip(), form.password
        form.password = ""
        _call("signIn", user, password)

    def sign_up():
        user, password = form.user.strip(), form.password
        form.password = ""
        _call("signUp", user, password)

    def pair():
        code = form.code.strip()
        form.code = ""
        _call("pair", code)

    def load_conflicts():
        _call("conflicts")

    # What the screens show: finished strings, escaped so Ren'Py neither interpolates nor
    # reads text tags in them.

    def escape(s):
        return str(s).replace("[", "[[").replace("{", "{{")

    def signed_in():
        st = status()
        return bool(st and st.get("account"))

    def has_conflicts():
        st = status()
        return bool(st and st.get("pendingConflicts"))

    def status_text():
        st = status()
        if st is None:
            return "Cloud saves are available in the web version."
        account = st.get("account") or {}
        if account:
            return escape("Signed in as {} ({}).".format(account.get("username") or "?", st.get("phase") or "?"))
        return escape("Not signed in ({}).".format(st.get("phase") or "?"))

    def outcome_text():
        """The result of the last action the player started here, or ""."""
        outcome = last()
        if not outcome or outcome.get("pending"):
            return "Working..." if outcome else ""
        if not outcome.get("ok"):
            return escape(outcome.get("error") or "failed")
        if outcome.get("op") == "createPairingCode":
            code = (outcome.get("result") or {}).get("code") or "?"
            return escape("On your other browser or computer, choose Pair and enter {}.".format(code))
        return ""

    def conflict_paths():
        outcome = last()
        if outcome and outcome.get("ok") and outcome.get("op") == "conflicts":
            return tuple(str(c.get("path")) for c in (outcome.get("result") or ()))
        return ()

## A screen to sign in, sign up or pair this browser; shows the sync status.
screen renpy_cloud():
    modal True
    zorder 200
    key "game_menu" action Hide("renpy_cloud")
    timer 0.5 repeat True action Function(renpy.restart_interaction)
    frame:
        xalign 0.5 yalign 0.5 padding (30, 20)
        vbox:
            spacing 10
            label _("Cloud saves")
            text renpy_cloud.status_text()
            if renpy_cloud.signed_in():
                if renpy_cloud.has_conflicts():
                    textbutton _("Resolve conflicts") action [Function(renpy_cloud.load_conflicts), Show("renpy_cloud_conflicts")]
                textbutton _("Sync now") action renpy_cloud.Call("syncNow")
                textbutton _("Show a code to add another browser") action renpy_cloud.Call("createPairingCode")
                textbutton _("Sign out") action renpy_cloud.Call("signOut")
            elif renpy_cloud.status() is not None:
                hbox:
                    spacing 10
                    text _("Name") min_width 130
                    button:
                        xsize 360
                        background Solid("#ffffff18")
                        selected_background Solid("#ffffff40")
                        alt "Cloud account name"
                        key_events True
                        action renpy_cloud.user_value.Enable()
                        input value renpy_cloud.user_value length 64
                hbox:
                    spacing 10
                    text _("Password") min_width 130
                    button:
                        xsize 360
                        background Solid("#ffffff18")
                        selected_background Solid("#ffffff40")
                        alt "Cloud password"
                        key_events True
                        action renpy_cloud.password_value.Enable()
                        input value renpy_cloud.password_value mask "*" length 128
                hbox:
                    spacing 20
                    textbutton _("Sign in") action Function(renpy_cloud.sign_in)
                    textbutton _("Create account") action Function(renpy_cloud.sign_up)
                text _("Or enter a pairing code from another device:")
                hbox:
                    spacing 10
                    button:
                        xsize 360
                        background Solid("#ffffff18")
                        selected_background Solid("#ffffff40")
                        alt "Cloud pairing code"
                        key_events True
                        action renpy_cloud.code_value.Enable()
                        input value renpy_cloud.code_value length 16
                    textbutton _("Pair") action Function(renpy_cloud.pair)
            text renpy_cloud.outcome_text() color "#f88"
            textbutton _("Close") action Hide("renpy_cloud")

## Conflicts left for the player (policy "manual"): keep this browser's save, the other
## one, or both (the other goes to a free slot on page 10).
screen renpy_cloud_conflicts():
    modal True
    zorder 210
    key "game_menu" action Hide("renpy_cloud_conflicts")
    timer 0.5 repeat True action Function(renpy.restart_interaction)
    frame:
        xalign 0.5 yalign 0.5 padding (30, 20)
        vbox:
            spacing 10
            label _("Save conflicts")
            for path in renpy_cloud.conflict_paths():
                hbox:
                    spacing 15
                    text renpy_cloud.escape(path)
                    textbutton _("Keep mine") action [renpy_cloud.Call("resolve", path, "keep-local"), Function(renpy_cloud.load_conflicts)]
                    textbutton _("Keep theirs") action [renpy_cloud.Call("resolve", path, "keep-remote"), Function(renpy_cloud.load_conflicts)]
                    textbutton _("Keep both") action [renpy_cloud.Call("resolve", path, "keep-both"), Function(renpy_cloud.load_conflicts)]
            if not renpy_cloud.conflict_paths():
                text _("No conflicts.")
            textbutton _("Close") action Hide("renpy_cloud_conflicts")

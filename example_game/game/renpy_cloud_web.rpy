## renpy-cloud for web builds: sign-in, status and conflicts inside the game.
##
## The sync itself runs in the page (renpy-cloud.js, added by `cargo xtask web-inject`):
## saves are pulled before the game boots and pushed after every save. This file only
## lets players sign in, pair a browser and settle conflicts from Ren'Py screens, through
## renpy.emscripten.run_script*. On desktop builds (no renpy.emscripten) it does nothing.

init -10 python in renpy_cloud:
    import json

    def available():
        """True on the web, when the glue script is loaded."""
        em = renpy.emscripten
        return bool(em) and em.run_script_int("window.RenpyCloud ? 1 : 0") == 1

    def _call(method, *args):
        """Starts RenpyCloud.<method>(*args); its outcome lands in window._renpyCloudLast."""
        if not available():
            return
        js = (
            "window._renpyCloudLast = {op: %s, pending: true};"
            "RenpyCloud[%s](...%s).then("
            "r => window._renpyCloudLast = {op: %s, ok: true, result: r},"
            "e => window._renpyCloudLast = {op: %s, ok: false, error: String(e && e.message || e)});"
        ) % (json.dumps(method), json.dumps(method), json.dumps(list(args)),
             json.dumps(method), json.dumps(method))
        renpy.emscripten.run_script(js)

    def _json(expr):
        if not available():
            return None
        raw = renpy.emscripten.run_script_string("JSON.stringify(%s)" % expr)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def status():
        """The glue's status dict (phase, account, pendingConflicts, error...), or None."""
        return _json("RenpyCloud.status()")

    def last():
        """Outcome of the last action started from Ren'Py: {op, ok, error|result} or None."""
        return _json("window._renpyCloudLast || null")

    def load_conflicts():
        _call("conflicts")

    class Call(Action):
        """Action: RenpyCloud.<method>(*args), e.g. Call("signIn", name, password)."""
        def __init__(self, method, *args):
            self.method = method
            self.args = args
        def __call__(self):
            _call(self.method, *self.args)
            renpy.restart_interaction()

default renpy_cloud_user = ""
default renpy_cloud_password = ""
default renpy_cloud_code = ""

## A screen to sign in, sign up or pair this browser; shows the sync status.
screen renpy_cloud():
    modal True
    timer 0.5 repeat True action Function(renpy.restart_interaction)
    $ st = renpy_cloud.status()
    $ outcome = renpy_cloud.last()
    frame:
        xalign 0.5 yalign 0.5 padding (30, 20)
        vbox:
            spacing 10
            label _("Cloud saves")
            if st is None:
                text _("Cloud saves are available in the web version.")
            elif st["account"]:
                text _("Signed in as [st[account][username]] — [st[phase]]")
                if st["pendingConflicts"]:
                    textbutton _("Resolve conflicts") action [Function(renpy_cloud.load_conflicts), Show("renpy_cloud_conflicts")]
                textbutton _("Sync now") action renpy_cloud.Call("syncNow")
                textbutton _("Show a code to add another browser") action renpy_cloud.Call("createPairingCode")
                textbutton _("Sign out") action renpy_cloud.Call("signOut")
            else:
                text _("Name:")
                input value VariableInputValue("renpy_cloud_user") length 64
                text _("Password:")
                input value VariableInputValue("renpy_cloud_password", default=False) mask "*" length 128
                hbox:
                    spacing 20
                    textbutton _("Sign in") action renpy_cloud.Call("signIn", renpy_cloud_user, renpy_cloud_password)
                    textbutton _("Create account") action renpy_cloud.Call("signUp", renpy_cloud_user, renpy_cloud_password)
                text _("Or enter a pairing code from another device:")
                input value VariableInputValue("renpy_cloud_code", default=False) length 16
                textbutton _("Pair") action renpy_cloud.Call("pair", renpy_cloud_code)
            if outcome and not outcome.get("pending"):
                if outcome["ok"] and outcome["op"] == "createPairingCode":
                    text _("Code: [outcome[result][code]]")
                elif not outcome["ok"]:
                    text "[outcome[error]]" color "#f66"
            textbutton _("Close") action Hide("renpy_cloud")

## Conflicts left for the player (policy "manual"): keep this browser's save, the other
## one, or both (the other goes to a free slot on page 10).
screen renpy_cloud_conflicts():
    modal True
    timer 0.5 repeat True action Function(renpy.restart_interaction)
    $ outcome = renpy_cloud.last()
    $ items = outcome["result"] if outcome and outcome.get("ok") and outcome["op"] == "conflicts" else []
    frame:
        xalign 0.5 yalign 0.5 padding (30, 20)
        vbox:
            spacing 10
            label _("Save conflicts")
            for c in items:
                hbox:
                    spacing 15
                    text "[c[path]]"
                    textbutton _("Keep mine") action [renpy_cloud.Call("resolve", c["path"], "keep-local"), Function(renpy_cloud.load_conflicts)]
                    textbutton _("Keep theirs") action [renpy_cloud.Call("resolve", c["path"], "keep-remote"), Function(renpy_cloud.load_conflicts)]
                    textbutton _("Keep both") action [renpy_cloud.Call("resolve", c["path"], "keep-both"), Function(renpy_cloud.load_conflicts)]
            if not items:
                text _("No conflicts.")
            textbutton _("Close") action Hide("renpy_cloud_conflicts")

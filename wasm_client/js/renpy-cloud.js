// renpy-cloud.js — cloud saves for web-exported Ren'Py games.
//
// One <script type="module"> in the game's index.html (`cargo xtask web-inject` adds it):
//
//   window.RENPY_CLOUD_CONFIG = {server, gameId, saveDirectory};   // auto-init, or:
//   RenpyCloud.init({server, gameId, saveDirectory, deviceName?, policy?, indicator?})
//
// What it does, in the order a page lives:
// 1. Attaches to Emscripten at once (synchronously, when this module is evaluated): wraps
//    `FS.syncfs`. The game's boot-time `FS.syncfs(true)` waits until the boot pull has
//    written the player's cloud saves straight into IndexedDB (Ren'Py then loads them as if
//    they had always been there). If the game already started loading, nothing is written
//    to IndexedDB directly (the game's next syncfs would wipe it): the pull goes through
//    `FS` instead.
// 2. While the game runs, every `FS.syncfs(false)` of Ren'Py (after each save; on 8.3.1+
//    also after almost every click, when it saves `persistent`) tells the core's scheduler
//    (`SyncScheduler`, sync_core::client::scheduler) that the game saved. The scheduler
//    decides when to sync: bursts of saves at most one sync per 5 s, one running plus one
//    follow-up, backoff that honours Retry-After, a periodic sync. This file only runs its
//    timer. Downloads go through `FS` (both of Ren'Py's save locations, the savedir and
//    its `sync/`), then `FS.syncfs(false)` and `renpy.loadsave.location.scan()` so that
//    Ren'Py shows them; a `persistent` from another browser is delivered to
//    `sync/persistent` and merged by Ren'Py (`renpy.persistent.update()`), after the
//    running Ren'Py was told to trust that browser's save-token key.
// 3. When the tab is hidden or closed, a final flush with `fetch` keepalive; syncs on
//    reconnect. Pending uploads survive reloads: the files are in IDBFS and the last-synced
//    base in the client's own database.

const MOUNT = "/home/web_user/.renpy";
const DEFAULTS = {
  deviceName: undefined,
  policy: undefined,
  indicator: true,
  periodicSeconds: undefined, // between syncs when nothing asks sooner (0: never); the core's default
  bootTimeoutSeconds: 20,
};

const status = {
  phase: "starting", // starting | booting | signed-out | syncing | idle | offline | error
  account: null,
  gameRunning: false,
  lastSync: null,
  lastReport: null,
  error: null,
  progress: null,
  pendingConflicts: 0,
};
const listeners = new Set();

let options = null;
let client = null;
let gameFS = null; // the game's FS, once seen
let origSyncfs = null; // FS.syncfs before our wrapper
let bootBegan = false; // the game's boot-time FS.syncfs(true) has been called
let bootPull = null; // Promise of the before-boot pull, if init ran in time
let initPromise = null;
let keysExchangedWhileRunning = false;
let wasm = null; // the module's exports, once loaded
let fsChain = Promise.resolve(); // serializes FS.syncfs(false) calls (ours and the game's)
let engineChain = Promise.resolve(); // serializes engine operations

// ---------------------------------------------------------------- status and indicator

function emit() {
  const snapshot = getStatus();
  for (const fn of listeners) {
    try {
      fn(snapshot);
    } catch (e) {
      console.error("renpy-cloud: status listener failed", e);
    }
  }
  renderIndicator();
}

function setStatus(patch) {
  Object.assign(status, patch);
  emit();
}

function getStatus() {
  return JSON.parse(JSON.stringify(status));
}

let indicator = null;
let indicatorVisible = true;

function indicatorText() {
  const p = status.progress;
  switch (status.phase) {
    case "starting":
    case "booting":
      return "☁ loading cloud saves…";
    case "signed-out":
      return "☁ cloud saves: not signed in";
    case "syncing":
      return p && p.files_total ? `☁ syncing ${p.files_done}/${p.files_total}` : "☁ syncing…";
    case "offline":
      return "☁ offline — saves will sync later";
    case "error":
      return "☁ sync error";
    default:
      return status.pendingConflicts
        ? `☁ ${status.pendingConflicts} save conflict(s)`
        : "☁ saves synced";
  }
}

function renderIndicator() {
  if (!options || !options.indicator || typeof document === "undefined" || !document.body) return;
  if (!indicator) {
    indicator = document.createElement("div");
    indicator.id = "renpy-cloud-indicator";
    indicator.setAttribute("role", "status");
    indicator.style.cssText =
      "position:fixed;right:8px;bottom:8px;z-index:2147483647;padding:2px 8px;" +
      "font:12px/1.6 system-ui,sans-serif;color:#fff;background:rgba(0,0,0,.55);" +
      "border-radius:10px;pointer-events:none;opacity:.8;transition:opacity .3s";
    document.body.appendChild(indicator);
  }
  indicator.textContent = indicatorText();
  indicator.dataset.phase = status.phase;
  indicator.title = status.error ? status.error.message : "";
  indicator.style.display = indicatorVisible ? "" : "none";
}

// ---------------------------------------------------------------- attaching to Emscripten

function findFS() {
  const M = globalThis.Module;
  return (M && M.FS) || globalThis.FS || null;
}

function mountStarted(FS) {
  try {
    return FS.analyzePath(MOUNT).exists;
  } catch {
    return false;
  }
}

/** Longest wait for one FS.syncfs(false): a broken IDBFS may never call back. */
const SYNCFS_TIMEOUT_MS = 30000;

/** Runs `fn` on the FS chain so that no two FS.syncfs(false) overlap. */
function onFsChain(fn) {
  const run = fsChain.then(() => withTimeout(fn(), SYNCFS_TIMEOUT_MS));
  fsChain = run.catch(() => {});
  return run;
}

/** Persists MEMFS to IndexedDB with the unwrapped syncfs (so it triggers no push). */
function persist() {
  return onFsChain(
    () =>
      new Promise((resolve, reject) =>
        origSyncfs(false, (err) => (err ? reject(err) : resolve())),
      ),
  );
}

function wrap(FS) {
  if (FS.__renpyCloud) return;
  FS.__renpyCloud = true;
  gameFS = FS;
  origSyncfs = FS.syncfs.bind(FS);
  FS.syncfs = function (populate, callback) {
    if (typeof populate === "function") {
      callback = populate;
      populate = false;
    }
    if (populate) {
      const start = () => {
        // Same turn as the game's load: our IndexedDB writes stop here (see bootStarted).
        bootBegan = true;
        if (client) client.bootStarted();
        setStatus({ phase: status.phase === "starting" ? "booting" : status.phase });
        origSyncfs(true, (err) => {
          try {
            if (callback) callback(err);
          } finally {
            gameRunning();
          }
        });
      };
      if (bootPull) withTimeout(bootPull, options.bootTimeoutSeconds * 1000).finally(start);
      else start();
      return;
    }
    onFsChain(
      () =>
        new Promise((resolve) =>
          origSyncfs(false, (err) => {
            try {
              if (callback) callback(err);
            } finally {
              resolve();
            }
          }),
        ),
    ).then(() => notify("saved"));
  };
}

/** Attaches now if possible; otherwise as the first preRun of the Emscripten module. */
function attach() {
  const FS = findFS();
  if (FS) {
    if (mountStarted(FS)) {
      lateAttach(FS);
    } else {
      wrap(FS);
    }
    return;
  }
  const M = (globalThis.Module = globalThis.Module || {});
  if (!M.preRun) M.preRun = [];
  if (!Array.isArray(M.preRun)) M.preRun = [M.preRun];
  const hook = () => {
    const fs = findFS();
    if (fs && !isWrapped(fs) && !mountStarted(fs)) wrap(fs);
    else if (fs && !isWrapped(fs)) lateAttach(fs);
  };
  // Emscripten 3.1.x runs Module.preRun last-to-first (addOnPreRun unshifts), other
  // versions first-to-last: at both ends, ours runs before Ren'Py's initFs either way.
  M.preRun.unshift(hook);
  M.preRun.push(hook);
}

function isWrapped(fs) {
  return !!fs.__renpyCloud;
}

/** We came too late to seed IndexedDB: wait for the game to run, then sync through FS. */
function lateAttach(FS) {
  bootBegan = true;
  wrap(FS);
  const poll = () => {
    if (globalThis.Module && globalThis.Module.calledRun) gameRunning();
    else setTimeout(poll, 200);
  };
  poll();
}

function gameRunning() {
  if (status.gameRunning) return;
  setStatus({ gameRunning: true });
  // Through FS from now on (a pull that was too late for IndexedDB happens here).
  notify("requested");
}

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms))]);
}

// ---------------------------------------------------------------- engine operations

function exclusive(fn) {
  const run = engineChain.then(fn);
  engineChain = run.catch(() => {});
  return run;
}

/** The FS to sync through now: the game's while it runs, null before it boots. */
function currentFS() {
  if (status.gameRunning) return gameFS;
  if (bootBegan) return undefined; // loading: neither side may be written
  return null;
}

/** Runs Python in the game (Ren'Py web's `renpy_exec`, which runs each script in turn at
 * the game's next interaction); nothing to wait for. */
function renpyExec(script, what) {
  const exec = globalThis.renpy_exec;
  if (typeof exec !== "function") return;
  Promise.resolve(exec(script)).catch((e) => console.warn(`renpy-cloud: ${what} failed`, e));
}

/** Asks Ren'Py to show changed saves and, when another browser's `persistent` was
 * delivered (to `sync/persistent`), to merge it now. */
function renpyRescan(merge) {
  renpyExec(
    merge ? "renpy.loadsave.location.scan()\nrenpy.persistent.update()" : "renpy.loadsave.location.scan()",
    "rescan",
  );
}

/** Makes the running Ren'Py trust save-token keys (it reads its key file only at start). */
function renpyTrust(keys) {
  const script = keys && keys.length ? wasm.renpyTrustScript(keys) : null;
  if (script) renpyExec(script, "trusting save-token keys");
}

function changedLocally(report) {
  return (
    report &&
    (report.downloaded.length ||
      report.deleted_local.length ||
      report.merged.length ||
      report.conflicts.some((c) => c.kept_copy))
  );
}

/** After a running game's files changed: persist them and let Ren'Py see them. */
async function afterLocalChange(fs, report) {
  if (fs && changedLocally(report)) {
    await persist();
    renpyRescan(report.merged.length > 0);
  }
}

function handleError(e) {
  const error = {
    code: e && e.code ? e.code : "internal",
    class: e && e.class ? e.class : null,
    message: String((e && e.message) || e),
  };
  if (error.class === "auth") {
    setStatus({ phase: "signed-out", account: client ? client.account() : null, error, progress: null });
  } else if (e && e.transient) {
    setStatus({ phase: "offline", error, progress: null });
  } else {
    setStatus({ phase: "error", error, progress: null });
  }
}

/** One sync; resolves with its report (null if it could not run), rejects on failure. */
async function runSync(flush) {
  const fs = currentFS();
  if (fs === undefined || !client || !client.account()) return null;
  setStatus({ phase: "syncing", progress: null });
  const report = flush ? await client.flush(fs) : await client.sync(fs, (p) => setStatus({ progress: p }));
  if (fs && (report.merged.length || !keysExchangedWhileRunning)) {
    // Keys learnt now reach the file only; the running Ren'Py is told before it is asked
    // to merge what another browser signed (afterLocalChange below).
    keysExchangedWhileRunning = true;
    const keys = await exchangeKeys(fs);
    if (keys) renpyTrust(keys.peers);
  }
  await afterLocalChange(fs, report);
  setStatus({
    phase: "idle",
    lastSync: Date.now(),
    lastReport: report,
    error: null,
    progress: null,
    pendingConflicts: report.pending_manual.length,
  });
  return report;
}

// ---------------------------------------------------------------- when to sync

// The core's SyncScheduler decides; this loop feeds it events and time and runs the sync it
// asks for. At most one timer is armed.
const MAX_TIMER_MS = 60 * 60 * 1000; // re-ask at least hourly (setTimeout overflows at 2^31 ms)
let scheduler = null;
let timer = null;
let syncing = false;
let flushNext = false; // the next sync uses fetch keepalive (the page is going away)
let waiting = []; // resolvers of requestSync() promises, settled by the next sync

const monotonicNow = () => performance.now();

/** Tells the scheduler what happened (`saved`, `online`, `hidden`, `signedIn`,
 * `requested`), then does what it says. */
function notify(event, { flush = false } = {}) {
  if (flush) flushNext = true;
  if (scheduler) scheduler[event](monotonicNow());
  pump();
}

/** Asks for a sync now; resolves with the report of the sync that covers the request
 * (null if none could run, e.g. signed out). */
function requestSync({ flush = false } = {}) {
  const covered = new Promise((resolve) => waiting.push(resolve));
  notify("requested", { flush });
  return covered;
}

function canSync() {
  return client !== null && !!client.account() && currentFS() !== undefined;
}

function pump() {
  clearTimeout(timer);
  timer = null;
  if (!scheduler || syncing) return;
  const next = scheduler.poll(monotonicNow());
  if (next.sync) {
    if (canSync()) startSync();
    else settle(waiting.splice(0), null); // signing in or the game starting will ask again
  } else if (next.waitUntil !== undefined) {
    const ms = Math.min(Math.max(0, next.waitUntil - monotonicNow()), MAX_TIMER_MS);
    timer = setTimeout(pump, ms);
  }
}

function settle(resolvers, report) {
  for (const resolve of resolvers) resolve(report);
}

async function startSync() {
  syncing = true;
  const flush = flushNext;
  flushNext = false;
  const covered = waiting.splice(0);
  scheduler.started(monotonicNow());
  let report = null;
  try {
    report = await exclusive(() => runSync(flush));
    scheduler.finishedOk(monotonicNow());
  } catch (e) {
    const retryAfter = e && typeof e.retryAfter === "number" ? e.retryAfter : undefined;
    scheduler.finishedFailed(monotonicNow(), !!(e && e.transient), retryAfter);
    handleError(e);
  } finally {
    syncing = false;
    settle(covered, report);
    pump();
  }
}

async function exchangeKeys(fs) {
  try {
    const result = await client.exchangeKeys(fs);
    if (fs && result.added.length) await persist();
    return result;
  } catch (e) {
    // Servers without the endpoint, or no key file yet: persistent from other browsers
    // will be accepted once keys are exchanged on a later boot.
    console.info("renpy-cloud: save-token key exchange skipped:", e && e.message);
    return null;
  }
}

// ---------------------------------------------------------------- init and public API

async function openClient() {
  const module = await import("./wasm_client.js");
  await module.default({ module_or_path: new URL("./wasm_client_bg.wasm", import.meta.url) });
  wasm = module;
  const periodic = options.periodicSeconds;
  const timing = periodic === undefined ? {} : { intervalMs: periodic > 0 ? periodic * 1000 : Infinity };
  scheduler = new wasm.SyncScheduler(timing, monotonicNow());
  client = await wasm.Client.open({
    server: options.server,
    gameId: options.gameId,
    saveDirectory: options.saveDirectory,
    deviceName: options.deviceName || defaultDeviceName(),
    policy: options.policy,
    mount: options.mount,
    stateDb: options.stateDb,
  });
  if (bootBegan) client.bootStarted();
}

function defaultDeviceName() {
  const ua = (globalThis.navigator && navigator.userAgent) || "";
  const browser = /Firefox\//.test(ua)
    ? "Firefox"
    : /Edg\//.test(ua)
      ? "Edge"
      : /Chrome\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : "Browser";
  return `${browser} (${location.host || "web"})`;
}

/** Starts the client; safe to call more than once (later calls return the first). */
function init(opts) {
  if (initPromise) return initPromise;
  options = { ...DEFAULTS, ...opts };
  for (const key of ["server", "gameId", "saveDirectory"]) {
    if (!options[key]) throw new Error(`RenpyCloud.init: ${key} is required`);
  }
  // Created synchronously, so a boot that starts right after this still waits for it.
  bootPull = (async () => {
    await openClient();
    if (!client.account()) {
      setStatus({ phase: "signed-out" });
      return;
    }
    setStatus({ account: client.account() });
    if (bootBegan) return; // too late for IndexedDB; gameRunning() syncs through FS
    await exclusive(async () => {
      if (bootBegan) return;
      await exchangeKeys(null);
    });
    await requestSync();
  })().catch((e) => handleError(e));
  initPromise = bootPull.then(() => {
    if (typeof document !== "undefined") {
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "hidden") notify("hidden", { flush: true });
      });
    }
    globalThis.addEventListener("pagehide", () => notify("hidden", { flush: true }));
    globalThis.addEventListener("online", () => notify("online"));
    pump(); // the periodic sync, on the scheduler's timer
    if (typeof document !== "undefined" && !document.body) {
      document.addEventListener("DOMContentLoaded", renderIndicator);
    }
    renderIndicator();
    return getStatus();
  });
  return initPromise;
}

async function ready() {
  if (!initPromise) throw new Error("RenpyCloud.init has not been called");
  await initPromise;
  if (!client) throw new Error("renpy-cloud failed to start: " + (status.error && status.error.message));
  return client;
}

async function afterSignIn(account) {
  setStatus({ account, error: null, phase: "idle" });
  if (currentFS() === null) await exclusive(() => exchangeKeys(null));
  notify("signedIn");
  return account;
}

export const RenpyCloud = {
  init,
  /** A snapshot of the current status (see `status` above). */
  status: getStatus,
  /** Calls `fn(status)` on every change; returns a function that unsubscribes. */
  onStatus(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
  async signIn(username, password) {
    const c = await ready();
    return afterSignIn(await c.signIn(username, password));
  },
  async signUp(username, password) {
    const c = await ready();
    return afterSignIn(await c.signUp(username, password));
  },
  /** Signs in with a code from `createPairingCode` on another device. */
  async pair(code) {
    const c = await ready();
    return afterSignIn(await c.pair(code));
  },
  async createPairingCode() {
    return (await ready()).createPairingCode();
  },
  async signOut() {
    const c = await ready();
    await exclusive(() => c.signOut());
    setStatus({ phase: "signed-out", account: null });
  },
  /** Syncs now; resolves with the report (null if nothing could run). */
  async syncNow() {
    await ready();
    return requestSync();
  },
  /** Conflicts waiting for the player (policy "manual"): [{path, local, remote}]. */
  async conflicts() {
    const c = await ready();
    return exclusive(() => c.conflicts(currentFS() || null));
  },
  /**
   * The same conflicts with what a chooser shows of both sides: [{path, local, remote}],
   * each side null (deleted) or {sha256, size, mtime, version, device_id, device_name,
   * deleted, meta: {save_name, game_runtime, ctime, version, extra, has_screenshot},
   * screenshot: Uint8Array (PNG) | null}. The other side's save is downloaded for this.
   */
  async conflictPreviews() {
    const c = await ready();
    return exclusive(() => c.conflictPreviews(currentFS() || null));
  },
  /** What a Ren'Py save's bytes say, read by the client's core: {meta, screenshot}
   * (as in conflictPreviews). Rejects with code "unreadable_save" for anything else. */
  async readSave(bytes) {
    await ready();
    return wasm.readSave(bytes);
  },
  /** choice: "keep-local" | "keep-remote" | "keep-both"; applied by the sync it starts. */
  async resolve(path, choice) {
    const c = await ready();
    await exclusive(() => c.resolve(path, choice, currentFS() || null));
    return requestSync();
  },
  async history(path) {
    const c = await ready();
    return exclusive(() => c.history(path, currentFS() || null));
  },
  async restore(path, version) {
    const c = await ready();
    return exclusive(async () => {
      const fs = currentFS();
      if (fs === undefined) throw new Error("the game is loading; try again in a moment");
      const report = await c.restore(fs, path, version);
      await afterLocalChange(fs, report);
      return report;
    });
  },
  /** The conflict policy of the next syncs: "keep-both" (the default), "manual",
   * "local", "remote", "newest", "most-progress". */
  async setPolicy(policy) {
    (await ready()).setPolicy(policy);
  },
  /** Shows or hides the status indicator. */
  setIndicatorVisible(visible) {
    indicatorVisible = !!visible;
    renderIndicator();
  },
};

globalThis.RenpyCloud = RenpyCloud;
attach();
if (globalThis.RENPY_CLOUD_CONFIG) {
  try {
    init(globalThis.RENPY_CLOUD_CONFIG);
  } catch (e) {
    console.error("renpy-cloud:", e);
  }
}

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
// 2. While the game runs, every `FS.syncfs(false)` of Ren'Py (after each save, on every
//    8.x) is followed by a push; pushes are coalesced (one running plus one queued).
//    Downloads go through `FS`, then `FS.syncfs(false)` and
//    `renpy.loadsave.location.scan()` so that Ren'Py shows them.
// 3. When the tab is hidden or closed, a final flush with `fetch` keepalive; periodic and
//    on-reconnect syncs; transient failures retry with backoff. Pending uploads survive
//    reloads: the files are in IDBFS and the last-synced base in the client's own database.

const MOUNT = "/home/web_user/.renpy";
const DEFAULTS = {
  deviceName: undefined,
  policy: undefined,
  indicator: true,
  periodicSeconds: 120,
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
let failures = 0;
let retryTimer = null;
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
    ).then(() => requestSync("save"));
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
  requestSync("boot");
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

function renpyRescan() {
  const exec = globalThis.renpy_exec;
  if (typeof exec !== "function") return;
  // Runs at the game's next interaction; nothing to wait for.
  Promise.resolve(exec("renpy.loadsave.location.scan()")).catch((e) =>
    console.warn("renpy-cloud: rescan failed", e),
  );
}

function changedLocally(report) {
  return (
    report &&
    (report.downloaded.length ||
      report.deleted_local.length ||
      report.conflicts.some((c) => c.kept_copy))
  );
}

/** After a running game's files changed: persist them and let Ren'Py see them. */
async function afterLocalChange(fs, report) {
  if (fs && changedLocally(report)) {
    await persist();
    renpyRescan();
  }
}

function handleError(e) {
  const error = { code: e && e.code ? e.code : "error", message: String((e && e.message) || e) };
  if (error.code === "unauthorized") {
    setStatus({ phase: "signed-out", account: client ? client.account() : null, error, progress: null });
    return;
  }
  if (e && e.transient) {
    failures += 1;
    const seconds = Math.max(e.retryAfter || 0, Math.min(60, 2 ** failures));
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => requestSync("retry"), seconds * 1000);
    setStatus({ phase: "offline", error, progress: null });
    return;
  }
  setStatus({ phase: "error", error, progress: null });
}

async function runSync(flush) {
  const fs = currentFS();
  if (fs === undefined || !client || !client.account()) return null;
  setStatus({ phase: "syncing", progress: null });
  try {
    const report = flush
      ? await client.flush(fs)
      : await client.sync(fs, (p) => setStatus({ progress: p }));
    await afterLocalChange(fs, report);
    failures = 0;
    setStatus({
      phase: "idle",
      lastSync: Date.now(),
      lastReport: report,
      error: null,
      progress: null,
      pendingConflicts: report.pending_manual.length,
    });
    if (fs && !keysExchangedWhileRunning) {
      keysExchangedWhileRunning = true;
      await exchangeKeys(fs);
    }
    return report;
  } catch (e) {
    handleError(e);
    return null;
  }
}

let running = null;
let queued = null;

/**
 * Asks for a sync. At most one runs and one waits; requests made meanwhile join the waiting
 * one. Resolves with the report of the sync that covered this request (null if none ran).
 */
function requestSync(reason, { flush = false } = {}) {
  if (running) {
    if (!queued) {
      let resolve;
      const promise = new Promise((r) => (resolve = r));
      queued = { flush, promise, resolve };
    }
    queued.flush = queued.flush || flush;
    return queued.promise;
  }
  running = exclusive(() => runSync(flush)).finally(() => {
    running = null;
    if (queued) {
      const next = queued;
      queued = null;
      requestSync(reason, { flush: next.flush }).then(next.resolve);
    }
  });
  return running;
}

async function exchangeKeys(fs) {
  try {
    const result = await client.exchangeKeys(fs);
    if (fs && result.added) await persist();
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
  const wasm = await import("./wasm_client.js");
  await wasm.default({ module_or_path: new URL("./wasm_client_bg.wasm", import.meta.url) });
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
    await requestSync("before-boot");
  })().catch((e) => handleError(e));
  initPromise = bootPull.then(() => {
    if (typeof document !== "undefined") {
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "hidden") requestSync("hidden", { flush: true });
      });
    }
    globalThis.addEventListener("pagehide", () => requestSync("pagehide", { flush: true }));
    globalThis.addEventListener("online", () => requestSync("online"));
    if (options.periodicSeconds > 0) {
      setInterval(() => requestSync("periodic"), options.periodicSeconds * 1000);
    }
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
  requestSync("sign-in");
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
    return requestSync("manual");
  },
  /** Conflicts waiting for the player (policy "manual"). */
  async conflicts() {
    const c = await ready();
    return exclusive(() => c.conflicts(currentFS() || null));
  },
  /** choice: "keep-local" | "keep-remote" | "keep-both"; applied by the sync it starts. */
  async resolve(path, choice) {
    const c = await ready();
    await exclusive(() => c.resolve(path, choice, currentFS() || null));
    return requestSync("resolve");
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

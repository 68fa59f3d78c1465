// One "device" of the demo: a stand-in Ren'Py web game (real Emscripten FS + IDBFS, see
// boot.js and game/main.c) with renpy-cloud's real wasm client and glue script.
//
// The game side does what Ren'Py does: writes `<page>-<slot>-LT1.save` zips (save.new then
// rename) and the `persistent` file under /home/web_user/.renpy/<save_directory>/, then
// calls FS.syncfs(false). Everything cloud-related is the public RenpyCloud API.

import { RenpyCloud } from "./renpy-cloud/renpy-cloud.js";
import { buildSave, readSave, zlibCompress, zlibDecompress } from "./savefile.js";

const GAME_ID = "renpy-cloud-demo";
const SAVE_DIRECTORY = "RenpyCloudDemo-1700000000";
const SAVE_ROOT = `/home/web_user/.renpy/${SAVE_DIRECTORY}`;
const SLOTS = 6; // page 1 of the default load screen

const params = new URLSearchParams(location.search);
const NAME = (params.get("name") || "Device").slice(0, 40);
const HOST = params.get("host"); // origin of the page around us, for postMessage
const $ = (id) => document.getElementById(id);

document.title = `${NAME} — renpy-cloud demo`;
$("device-name").textContent = NAME;
$("device-origin").textContent = `own storage: ${params.get("ns") || "default"}`;

// ------------------------------------------------------------------ simulated network loss

// The glue and the wasm client use the global fetch; while "offline" is ticked every request
// fails the way a dropped network does.
let offline = false;
const realFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = (input, init) =>
  offline ? Promise.reject(new TypeError("Failed to fetch (network off in the demo)")) : realFetch(input, init);

$("offline").addEventListener("change", (e) => {
  offline = e.target.checked;
  document.body.classList.toggle("is-offline", offline);
  if (offline) RenpyCloud.syncNow();
  else window.dispatchEvent(new Event("online")); // what the browser fires on reconnect
});
$("sync-now").addEventListener("click", () => RenpyCloud.syncNow());

// ------------------------------------------------------------------ messages with the page around us

function tellHost(message) {
  if (HOST && window.parent !== window) {
    window.parent.postMessage({ source: "renpy-cloud-demo", device: NAME, ...message }, HOST);
  }
}

window.addEventListener("message", (e) => {
  if (!HOST || e.origin !== HOST || e.source !== window.parent) return;
  const m = e.data || {};
  if (m.type === "sync-now") RenpyCloud.syncNow();
  if (m.type === "pairing-code" && !RenpyCloud.status().account && typeof m.code === "string") {
    $("pair-code").value = m.code;
    $("pair-hint").textContent = `Code received from ${m.from || "your other device"}: press “Link device”.`;
    $("pair-hint").hidden = false;
  }
});

// ------------------------------------------------------------------ the stand-in game

const FS = () => globalThis.Module.FS;
let gameReady = false;
const started = performance.now();
const runtime = () => Math.round((performance.now() - started) / 1000);

function fmtRuntime(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function fmtTime(ms) {
  return ms ? new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "";
}

setInterval(() => ($("runtime").textContent = fmtRuntime(runtime())), 1000);

function exists(path) {
  return FS().analyzePath(path).exists;
}

/** FS.syncfs(false), as Ren'Py calls it after every save (the glue then pushes). */
function syncfs() {
  return new Promise((resolve, reject) => FS().syncfs(false, (err) => (err ? reject(err) : resolve())));
}

/** Writes a file the way Ren'Py does: to `<name>.new`, then renamed over the old one. */
function writeFile(path, bytes) {
  FS().writeFile(`${path}.new`, bytes);
  FS().rename(`${path}.new`, path);
}

const slotFile = (slot) => `1-${slot}-LT1.save`;
const slotLabel = (file) => {
  const m = /^(\d+)-(\d+)-LT1\.save$/.exec(file);
  return m ? `slot ${m[1]}-${m[2]}` : file;
};

async function saveTo(file) {
  const name = $("save-name").value.trim() || "Untitled";
  const bytes = await buildSave({
    saveName: name,
    scene: $("scene").value,
    device: NAME,
    slotLabel: slotLabel(file),
    runtime: runtime(),
  });
  writeFile(`${SAVE_ROOT}/${file}`, bytes);
  await syncfs();
  await renderSlots();
}

async function deleteSave(file) {
  FS().unlink(`${SAVE_ROOT}/${file}`);
  await syncfs();
  await renderSlots();
}

async function readPersistent() {
  const path = `${SAVE_ROOT}/persistent`;
  if (!exists(path)) return {};
  try {
    return JSON.parse(new TextDecoder().decode(await zlibDecompress(FS().readFile(path))));
  } catch {
    return {};
  }
}

// Ren'Py's persistent file is zlib-compressed; the stand-in stores JSON inside, not a pickle.
$("ending").addEventListener("click", async () => {
  const p = await readPersistent();
  p.endings_seen = (p.endings_seen || 0) + 1;
  writeFile(`${SAVE_ROOT}/persistent`, await zlibCompress(new TextEncoder().encode(JSON.stringify(p))));
  await syncfs();
  await renderSlots();
});

// ------------------------------------------------------------------ slots

let shownUrls = [];
let rendering = Promise.resolve();

/** Every save in the save directory: {file -> {meta, screenshotUrl, mtime}}. */
async function listSaves() {
  const out = new Map();
  if (!exists(SAVE_ROOT)) return out;
  for (const file of FS().readdir(SAVE_ROOT)) {
    if (!file.endsWith(".save")) continue;
    const path = `${SAVE_ROOT}/${file}`;
    try {
      const info = await readSave(FS().readFile(path));
      info.mtime = FS().stat(path).mtime.getTime();
      out.set(file, info);
    } catch (e) {
      out.set(file, { meta: { _save_name: `unreadable save (${e.message})` }, screenshotUrl: null });
    }
  }
  return out;
}

function button(text, label, onClick, cls = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  if (cls) b.className = cls;
  b.addEventListener("click", () => run(onClick));
  return b;
}

function saveCard(file, info, { saveHere }) {
  const li = document.createElement("li");
  li.className = "slot";
  li.dataset.file = file;
  const label = slotLabel(file);
  if (info && info.screenshotUrl) {
    const img = document.createElement("img");
    img.src = info.screenshotUrl;
    img.alt = `Screenshot of ${label}`;
    img.width = 192;
    img.height = 108;
    li.append(img);
  } else {
    const empty = document.createElement("div");
    empty.className = "empty-shot";
    empty.textContent = "Empty";
    li.append(empty);
  }
  const meta = document.createElement("div");
  meta.className = "slot-meta";
  const title = document.createElement("strong");
  title.className = "save-name";
  title.textContent = info ? info.meta._save_name || "(no name)" : label;
  const detail = document.createElement("span");
  detail.className = "muted";
  detail.textContent = info
    ? `${label} · ${fmtRuntime(info.meta._game_runtime)} played · ${info.meta.device || "?"} · ${fmtTime((info.meta._ctime || 0) * 1000)}`
    : "no save yet";
  meta.append(title, detail);
  const actions = document.createElement("div");
  actions.className = "actions";
  if (saveHere) actions.append(button("Save", `Save to ${label}`, () => saveTo(file)));
  if (info) actions.append(button("Delete", `Delete ${label}`, () => deleteSave(file), "secondary"));
  actions.append(button("History", `History of ${label}`, () => openHistory(file), "secondary"));
  li.append(meta, actions);
  return li;
}

function renderSlots() {
  rendering = rendering.then(async () => {
    if (!gameReady) return;
    const saves = await listSaves();
    const list = $("slots");
    const items = [];
    for (let i = 1; i <= SLOTS; i++) items.push(saveCard(slotFile(i), saves.get(slotFile(i)), { saveHere: true }));
    // Other saves, e.g. conflict copies on page 10 (where Ren'Py's load screen shows them).
    for (const [file, info] of [...saves].sort()) {
      if (!/^1-[1-6]-LT1\.save$/.test(file)) items.push(saveCard(file, info, { saveHere: false }));
    }
    for (const url of shownUrls) URL.revokeObjectURL(url);
    shownUrls = [...saves.values()].map((s) => s.screenshotUrl).filter(Boolean);
    list.replaceChildren(...items);
    $("endings").textContent = String((await readPersistent()).endings_seen || 0);
  });
  return rendering;
}

// Ren'Py's JS → Python bridge: the glue asks Ren'Py to rescan its saves after a download.
window.renpy_exec = (code) => {
  if (String(code).includes("loadsave.location.scan")) renderSlots();
  return Promise.resolve();
};

// ------------------------------------------------------------------ account

function showError(e) {
  const box = $("account-error");
  box.textContent = e ? `${e.message || e}` : "";
  box.hidden = !e;
}

async function run(fn) {
  try {
    showError(null);
    await fn();
  } catch (e) {
    console.error(e);
    showError(e);
  }
}

$("credentials").addEventListener("submit", (e) => {
  e.preventDefault();
  const action = (e.submitter && e.submitter.dataset.action) || "signIn";
  run(() => RenpyCloud[action]($("username").value.trim(), $("password").value));
});
$("pairing").addEventListener("submit", (e) => {
  e.preventDefault();
  run(() => RenpyCloud.pair($("pair-code").value.trim()));
});
$("show-code").addEventListener("click", () =>
  run(async () => {
    const c = await RenpyCloud.createPairingCode();
    $("code").textContent = c.code;
    $("code-expiry").textContent = `valid until ${fmtTime(c.expires_at)}`;
    $("code-box").hidden = false;
    tellHost({ type: "pairing-code", code: c.code });
  }),
);
$("sign-out").addEventListener("click", () => run(() => RenpyCloud.signOut()));

// ------------------------------------------------------------------ status

const PHASE_TEXT = {
  starting: () => "Loading cloud saves…",
  booting: () => "Loading cloud saves…",
  "signed-out": () => "Not signed in: saves stay on this device.",
  syncing: (s) =>
    s.progress && s.progress.files_total
      ? `Syncing ${s.progress.files_done}/${s.progress.files_total} files…`
      : "Syncing…",
  idle: (s) =>
    s.pendingConflicts
      ? `${s.pendingConflicts} conflict(s) wait for you.`
      : `All saves synced${s.lastSync ? ` at ${fmtTime(s.lastSync)}` : ""}.`,
  offline: () => "Offline: saves are kept here and sync when the network is back.",
  error: (s) => `Sync error: ${s.error ? s.error.message : "unknown"}`,
};

let handledSync = null;

function renderStatus(s) {
  const text = (PHASE_TEXT[s.phase] || (() => s.phase))(s);
  const line = $("status");
  if (line.textContent !== text) line.textContent = text;
  line.dataset.phase = s.phase;
  const bar = $("progress");
  const p = s.progress;
  if (s.phase === "syncing") {
    if (p && p.bytes_total) {
      bar.max = p.bytes_total;
      bar.value = p.bytes_done;
    } else if (p && p.files_total) {
      bar.max = p.files_total;
      bar.value = p.files_done;
    } else bar.removeAttribute("value"); // indeterminate
  } else {
    bar.max = 1;
    bar.value = s.phase === "idle" ? 1 : 0;
  }
  const signedIn = !!s.account;
  $("signed-in").hidden = !signedIn;
  $("signed-out").hidden = signedIn || s.phase === "starting";
  if (signedIn) $("who").textContent = s.account.username;
  else $("code-box").hidden = true;

  if (s.lastSync && s.lastSync !== handledSync && s.lastReport) {
    handledSync = s.lastSync;
    const r = s.lastReport;
    if (r.uploaded.length || r.deleted_remote.length) tellHost({ type: "changed" });
    if (r.downloaded.length || r.deleted_local.length || r.conflicts.length) renderSlots();
    if (r.conflicts.length) run(() => showConflicts(r.conflicts));
  }
}
RenpyCloud.onStatus(renderStatus);

// ------------------------------------------------------------------ conflict dialog

async function readLocal(file) {
  const path = `${SAVE_ROOT}/${file}`;
  return exists(path) ? readSave(FS().readFile(path)) : null;
}

function versionCard(title, info, where) {
  const card = document.createElement("figure");
  card.className = "version";
  const h = document.createElement("h3");
  h.textContent = title;
  card.append(h);
  if (info && info.screenshotUrl) {
    const img = document.createElement("img");
    img.src = info.screenshotUrl;
    img.alt = `Screenshot: ${title}`;
    img.width = 192;
    img.height = 108;
    card.append(img);
  }
  const dl = document.createElement("dl");
  const m = (info && info.meta) || {};
  for (const [k, v] of [
    ["Save name", m._save_name || "(none)"],
    ["Play time", fmtRuntime(m._game_runtime)],
    ["Device", m.device || "unknown"],
    ["Saved at", fmtTime((m._ctime || 0) * 1000)],
    ["Now in", where],
  ]) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
  card.append(dl);
  return card;
}

let conflictOther = null;

async function showConflicts(conflicts) {
  const c = conflicts[0];
  const dialog = $("conflict-dialog");
  const mine = await readLocal(c.path);
  const other = c.kept_copy ? await readLocal(c.kept_copy) : null;
  $("conflict-policy").textContent = c.kept_copy
    ? `Both devices changed ${slotLabel(c.path)} while offline. Policy “${c.policy}”: nothing is overwritten — ` +
      `this device's save keeps ${slotLabel(c.path)}, the other device's save was copied to ${slotLabel(c.kept_copy)}. ` +
      `Both versions also stay in the slot's cloud history.`
    : `Both devices changed ${slotLabel(c.path)} while offline. Policy “${c.policy}”: the ${c.winner} version keeps the slot; ` +
      `the other one stays in the slot's cloud history (History → Restore).`;
  const cards = [versionCard("This device's version", mine, slotLabel(c.path))];
  if (c.kept_copy) cards.push(versionCard("The other device's version", other, slotLabel(c.kept_copy)));
  $("conflict-versions").replaceChildren(...cards);
  conflictOther = c.kept_copy ? { path: c.path, copy: c.kept_copy } : null;
  $("conflict-use-other").hidden = !conflictOther;
  if (!dialog.open) dialog.showModal();
}

$("conflict-close").addEventListener("click", () => $("conflict-dialog").close());
$("conflict-use-other").addEventListener("click", () =>
  run(async () => {
    if (!conflictOther) return;
    // This device's version stays in the slot's cloud history.
    writeFile(`${SAVE_ROOT}/${conflictOther.path}`, FS().readFile(`${SAVE_ROOT}/${conflictOther.copy}`));
    await syncfs();
    await renderSlots();
    $("conflict-dialog").close();
  }),
);

// ------------------------------------------------------------------ history dialog

async function openHistory(file) {
  const dialog = $("history-dialog");
  $("history-title").textContent = `History of ${slotLabel(file)}`;
  const list = $("history-list");
  list.replaceChildren();
  if (!dialog.open) dialog.showModal();
  const h = await RenpyCloud.history(file);
  const versions = (h && h.versions) || [];
  if (!versions.length) {
    const li = document.createElement("li");
    li.textContent = "No version in the cloud yet.";
    list.append(li);
  }
  for (const v of versions) {
    const li = document.createElement("li");
    li.className = "history-item";
    li.dataset.version = v.version;
    const m = v.meta || {};
    const tags = [v.current && "current", v.archived && "kept from a conflict", v.deleted && "deleted"].filter(Boolean);
    const text = document.createElement("span");
    text.textContent =
      `v${v.version}${tags.length ? ` (${tags.join(", ")})` : ""} · ` +
      (v.deleted
        ? "deleted"
        : `“${m.save_name || "(no name)"}” · ${fmtRuntime(m.game_runtime)} played · ${(m.extra && m.extra.device) || "?"}`) +
      ` · ${fmtTime(v.committed_at)}`;
    li.append(text);
    if (!v.current && !v.deleted) {
      li.append(
        button("Restore", `Restore version ${v.version} of ${slotLabel(file)}`, async () => {
          await RenpyCloud.restore(file, v.version);
          await renderSlots();
          await openHistory(file);
        }),
      );
    }
    list.append(li);
  }
}
$("history-close").addEventListener("click", () => $("history-dialog").close());

// ------------------------------------------------------------------ boot

window.addEventListener("game-ready", () => {
  // Ren'Py creates its save directory at boot.
  if (!exists(SAVE_ROOT)) FS().mkdirTree(SAVE_ROOT);
  gameReady = true;
  renderSlots().then(() => (document.body.dataset.ready = "true"));
});

RenpyCloud.init({
  server: location.origin,
  gameId: GAME_ID,
  saveDirectory: SAVE_DIRECTORY,
  deviceName: NAME,
  indicator: false,
  periodicSeconds: 10,
});
// Boot the game once the glue is attached (as Ren'Py's page loads its engine).
const game = document.createElement("script");
game.src = "game/game.js";
document.body.append(game);

// One "device" of the demo: a stand-in Ren'Py web game (real Emscripten FS + IDBFS, see
// boot.js and game/main.c) with renpy-cloud's real wasm client and glue script.
//
// The game side does what Ren'Py does: writes `<page>-<slot>-LT1.save` zips (save.new then
// rename) and the `persistent` file under /home/web_user/.renpy/<save_directory>/, then
// calls FS.syncfs(false). Everything cloud-related is the public RenpyCloud API, and what a
// save says (name, play time, screenshot) is read by the client's core (RenpyCloud.readSave,
// RenpyCloud.conflictPreviews), not parsed here.

import { RenpyCloud } from "./renpy-cloud/renpy-cloud.js";
import { buildSave, zlibCompress, zlibDecompress } from "./savefile.js";

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

/** A blob: URL for PNG bytes (revoked when the slots are drawn again), or null. */
function pngUrl(png) {
  if (!png) return null;
  const url = URL.createObjectURL(new Blob([png], { type: "image/png" }));
  shownUrls.push(url);
  return url;
}

/** What the core reads from a save's bytes, as the cards show it. */
function describe(meta, png) {
  return {
    name: meta.save_name,
    runtime: meta.game_runtime,
    device: meta.extra && meta.extra.device, // the demo's config.save_json_callbacks key
    ctime: meta.ctime,
    screenshotUrl: pngUrl(png),
  };
}

/** A save of the game, read by the client's core; null when there is none. */
async function readLocal(file) {
  const path = `${SAVE_ROOT}/${file}`;
  if (!exists(path)) return null;
  try {
    const { meta, screenshot } = await RenpyCloud.readSave(FS().readFile(path));
    return describe(meta, screenshot);
  } catch (e) {
    return { name: `unreadable save (${e.message})`, screenshotUrl: null };
  }
}

/** Every save in the save directory: {file -> card info}. */
async function listSaves() {
  const out = new Map();
  if (!exists(SAVE_ROOT)) return out;
  for (const file of FS().readdir(SAVE_ROOT)) {
    if (file.endsWith(".save")) out.set(file, await readLocal(file));
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
  title.textContent = info ? info.name || "(no name)" : label;
  const detail = document.createElement("span");
  detail.className = "muted";
  detail.textContent = info
    ? `${label} · ${fmtRuntime(info.runtime)} played · ${info.device || "?"} · ${fmtTime((info.ctime || 0) * 1000)}`
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
    const oldUrls = shownUrls;
    shownUrls = [];
    const saves = await listSaves();
    const list = $("slots");
    const items = [];
    for (let i = 1; i <= SLOTS; i++) items.push(saveCard(slotFile(i), saves.get(slotFile(i)), { saveHere: true }));
    // Other saves, e.g. conflict copies on page 10 (where Ren'Py's load screen shows them).
    for (const [file, info] of [...saves].sort()) {
      if (!/^1-[1-6]-LT1\.save$/.test(file)) items.push(saveCard(file, info, { saveHere: false }));
    }
    list.replaceChildren(...items);
    for (const url of oldUrls) URL.revokeObjectURL(url);
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
    // Conflicts the player decided ("manual") need no second dialog.
    const settled = r.conflicts.filter((c) => c.policy !== "manual");
    if (settled.length) run(() => showConflicts(settled));
    else if (r.pending_manual.length && !$("conflict-dialog").open) run(showWaitingConflicts);
  }
}
RenpyCloud.onStatus(renderStatus);

// ------------------------------------------------------------------ conflict dialog

// Policy keep-both (the default): the sync already kept both saves; the dialog shows them.
// Policy manual ("Ask me"): the sync left the slot alone; the dialog shows both sides from
// RenpyCloud.conflictPreviews() and the player picks.

function versionCard(title, info, rows) {
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
  const m = info || {};
  for (const [k, v] of [
    ["Save name", m.name || "(none)"],
    ["Play time", fmtRuntime(m.runtime)],
    ["Device", m.device || "unknown"],
    ["Saved at", fmtTime((m.ctime || 0) * 1000)],
    ...rows,
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

function openConflictDialog({ text, cards, buttons }) {
  $("conflict-policy").textContent = text;
  $("conflict-versions").replaceChildren(...cards);
  $("conflict-choices").replaceChildren(...buttons);
  const dialog = $("conflict-dialog");
  if (!dialog.open) dialog.showModal();
}

async function showConflicts(conflicts) {
  const c = conflicts[0];
  const mine = await readLocal(c.path);
  const other = c.kept_copy ? await readLocal(c.kept_copy) : null;
  const text = c.kept_copy
    ? `Both devices changed ${slotLabel(c.path)} while offline. Policy “${c.policy}”: nothing is overwritten — ` +
      `this device's save keeps ${slotLabel(c.path)}, the other device's save was copied to ${slotLabel(c.kept_copy)}. ` +
      `Both versions also stay in the slot's cloud history.`
    : `Both devices changed ${slotLabel(c.path)} while offline. Policy “${c.policy}”: the ${c.winner} version keeps the slot; ` +
      `the other one stays in the slot's cloud history (History → Restore).`;
  const cards = [versionCard("This device's version", mine, [["Now in", slotLabel(c.path)]])];
  if (c.kept_copy) cards.push(versionCard("The other device's version", other, [["Now in", slotLabel(c.kept_copy)]]));
  conflictOther = c.kept_copy ? { path: c.path, copy: c.kept_copy } : null;
  const buttons = [];
  if (conflictOther) {
    buttons.push(button("Use the other version in this slot", "Use the other version in this slot", useOther, "secondary"));
  }
  buttons.push(button("Keep both", "Keep both", () => $("conflict-dialog").close()));
  openConflictDialog({ text, cards, buttons });
}

async function useOther() {
  if (!conflictOther) return;
  // This device's version stays in the slot's cloud history.
  writeFile(`${SAVE_ROOT}/${conflictOther.path}`, FS().readFile(`${SAVE_ROOT}/${conflictOther.copy}`));
  await syncfs();
  await renderSlots();
  $("conflict-dialog").close();
}

/** A side of a waiting conflict, as conflictPreviews gives it, for a card. */
function sideInfo(side) {
  if (!side) return null;
  const info = side.meta ? describe(side.meta, side.screenshot) : { screenshotUrl: null };
  if (!info.device) info.device = side.device_name || side.device_id || "this device";
  return info;
}

let choosing = false;

async function showWaitingConflicts() {
  if (choosing) return;
  choosing = true;
  try {
    const previews = await RenpyCloud.conflictPreviews();
    const c = previews[0];
    if (!c) return;
    const where = (side) => (side ? [["Changed", fmtTime(side.mtime)]] : [["Changed", "deleted"]]);
    const cards = [
      versionCard("This device's version", sideInfo(c.local), where(c.local)),
      versionCard(
        `The version from ${(c.remote && c.remote.device_name) || "your other device"}`,
        sideInfo(c.remote),
        [...where(c.remote), ["Cloud version", c.remote ? `v${c.remote.version}` : "none"]],
      ),
    ];
    const choose = (choice) => async () => {
      await RenpyCloud.resolve(c.path, choice);
      $("conflict-dialog").close();
      await renderSlots();
    };
    openConflictDialog({
      text:
        `Both devices changed ${slotLabel(c.path)} while offline. Policy “manual”: nothing changed yet — ` +
        `pick the version to keep in ${slotLabel(c.path)} (the other stays in its cloud history), or keep both.`,
      cards,
      buttons: [
        button("Keep mine", `Keep this device's version of ${slotLabel(c.path)}`, choose("keep-local"), "secondary"),
        button("Keep theirs", `Keep the other device's version of ${slotLabel(c.path)}`, choose("keep-remote"), "secondary"),
        button("Keep both", `Keep both versions of ${slotLabel(c.path)}`, choose("keep-both")),
      ],
    });
  } finally {
    choosing = false;
  }
}

$("policy").addEventListener("change", (e) => run(() => RenpyCloud.setPolicy(e.target.value)));

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

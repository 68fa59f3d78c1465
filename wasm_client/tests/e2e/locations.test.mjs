// Ren'Py's two save locations on the web — the save directory and its `sync/` folder
// (Ren'Py 8.1+ writes every slot to both and shows the copy with the newest mtime) — with
// the real server and the real Emscripten IDBFS: what the client downloads, restores or
// deletes is what the game then shows, and another browser's `persistent` is delivered
// for Ren'Py to merge, after the running Ren'Py was told to trust its save-token key.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import {
  MOUNT,
  ROOT,
  boot,
  gameSave,
  gameStat,
  idb,
  renpyShows,
  setUp,
  signIn,
  syncNow,
  syncfs,
  waitStatus,
} from "./support.mjs";

const SLOT = "1-1-LT1.save";
const KEY_FILE = `${MOUNT}/tokens/security_keys.txt`;
// Base64 of 91 bytes, the size of a DER P-256 public key (the server checks both).
const PUB_A = Buffer.alloc(91, 0xa1).toString("base64");
const PUB_B = Buffer.alloc(91, 0xb2).toString("base64");

let t;
before(async () => {
  t = await setUp();
});
after(async () => {
  await t.close();
});

/** A browser whose game has not booted and has run before: Ren'Py made its save
 * directory, the `sync/` location and (if `key` is given) its save-token key file. */
async function playedBefore({ key } = {}) {
  const page = await t.open(await t.profile(), { hold: true });
  await idb(page, "put", ROOT, { dir: true });
  await idb(page, "put", `${ROOT}/sync`, { dir: true });
  if (key) {
    await idb(page, "put", `${MOUNT}/tokens`, { dir: true });
    await idb(page, "put", KEY_FILE, { text: `signing-key UFJJVkFURQ== ${key}\n` });
  }
  return page;
}

/** Both copies of a slot as Ren'Py writes them (same content and mtime). */
async function renpySaved(page, name, text, time) {
  await idb(page, "put", `${ROOT}/${name}`, { text, time });
  await idb(page, "put", `${ROOT}/sync/${name}`, { text, time });
}

test("an older download is what the game shows: both copies change (before boot and after)", async () => {
  const user = t.uniqueUser();
  const t1 = 1_700_000_100_000;
  const a = await playedBefore();
  await signIn(a, user, { signUp: true });
  await renpySaved(a, SLOT, "v1", t1);
  await syncNow(a);
  // B played that save before: Ren'Py keeps it in both locations, with A's mtime.
  const b = await playedBefore();
  await renpySaved(b, SLOT, "v1", t1);
  await signIn(b, user);
  await waitStatus(b, "s.phase === 'idle' && s.lastSync !== null");

  // A's clock is two minutes slow: its newer save carries an older mtime.
  const t0 = t1 - 120_000;
  await renpySaved(a, SLOT, "v2 from A", t0);
  assert.deepEqual((await syncNow(a)).uploaded, [SLOT]);
  const report = await syncNow(b);
  assert.deepEqual(report.downloaded, [SLOT]);
  for (const at of [SLOT, `sync/${SLOT}`]) {
    const rec = await idb(b, "get", `${ROOT}/${at}`);
    assert.equal(rec.text, "v2 from A", `${at} content`);
    assert.equal(rec.time, t0, `${at} keeps the origin mtime`);
    assert.equal(rec.timestampType, "[object Date]", `${at} timestamp`);
  }
  assert.deepEqual(await renpyShows(b, SLOT, { running: false }), { text: "v2 from A", time: t0, copies: 2 });

  // The game loads both records, shows A's save, and its next syncfs keeps them.
  await boot(b);
  assert.equal(await b.evaluate(() => window.bootError ?? null), null, "boot load succeeded");
  assert.deepEqual(await renpyShows(b, SLOT, { running: true }), { text: "v2 from A", time: t0, copies: 2 });
  assert.equal(await syncfs(b), null);
  assert.equal((await idb(b, "get", `${ROOT}/sync/${SLOT}`)).text, "v2 from A");

  // While the game runs, a restore of v1 (an older version) also replaces both copies.
  await waitStatus(b, "s.gameRunning && s.phase === 'idle'");
  const history = await b.evaluate((p) => RenpyCloud.history(p), SLOT);
  const v1 = history.versions.find((v) => !v.current && !v.deleted);
  assert.ok(v1, JSON.stringify(history));
  const restored = await b.evaluate(([p, v]) => RenpyCloud.restore(p, v), [SLOT, v1.version]);
  assert.deepEqual(restored.downloaded, [SLOT]);
  const shown = await renpyShows(b, SLOT, { running: true });
  assert.equal(shown.text, "v1");
  assert.equal(shown.copies, 2);
  assert.equal((await idb(b, "get", `${ROOT}/sync/${SLOT}`)).text, "v1", "persisted with FS.syncfs(false)");
  assert.ok((await b.evaluate(() => window.renpyExecLog)).includes("renpy.loadsave.location.scan()"));
  await a.context().close();
  await b.context().close();
});

test("a slot deleted on another browser leaves neither copy and does not come back", async () => {
  const user = t.uniqueUser();
  const a = await playedBefore();
  await signIn(a, user, { signUp: true });
  await renpySaved(a, SLOT, "doomed", 1_700_000_000_000);
  await syncNow(a);
  const b = await playedBefore();
  await signIn(b, user);
  await waitStatus(b, "s.lastReport && s.lastReport.downloaded.includes('" + SLOT + "')");
  assert.equal((await idb(b, "get", `${ROOT}/sync/${SLOT}`)).text, "doomed", "downloaded into sync/ too");
  await boot(b);
  await waitStatus(b, "s.gameRunning && s.phase === 'idle'");

  // Ren'Py on A deletes the slot from both of its locations.
  await idb(a, "delete", `${ROOT}/${SLOT}`);
  await idb(a, "delete", `${ROOT}/sync/${SLOT}`);
  assert.deepEqual((await syncNow(a)).deleted_remote, [SLOT]);
  const report = await syncNow(b);
  assert.deepEqual(report.deleted_local, [SLOT]);
  assert.equal(await gameStat(b, SLOT), null);
  assert.equal(await gameStat(b, `sync/${SLOT}`), null, "no stale copy left in sync/");
  const keys = await idb(b, "keys");
  assert.ok(!keys.includes(`${ROOT}/${SLOT}`) && !keys.includes(`${ROOT}/sync/${SLOT}`), "both records gone");
  assert.ok(keys.includes(`${ROOT}/sync`), "the sync/ folder itself stays");

  // After a reload and another sync the slot is still gone, here and on the server.
  await b.goto(`${t.game.origin}/index.html`);
  await waitStatus(b, "s.gameRunning && s.phase === 'idle' && s.lastSync !== null");
  assert.equal(await renpyShows(b, SLOT, { running: true }), null);
  const again = await syncNow(b);
  assert.deepEqual([again.downloaded, again.uploaded], [[], []]);
  await a.context().close();
  await b.context().close();
});

test("another browser's persistent goes to sync/persistent, trusted by the running Ren'Py first", async () => {
  const user = t.uniqueUser();
  // B has played and runs the game.
  const b = await playedBefore({ key: PUB_B });
  await idb(b, "put", `${ROOT}/persistent`, { text: "B's persistent", time: 1_700_000_000_000 });
  await signIn(b, user, { signUp: true });
  await waitStatus(b, "s.lastReport && s.lastReport.uploaded.includes('persistent')");
  await boot(b);
  await syncNow(b); // the first sync through FS (it also exchanges keys) is over
  const execsBefore = (await b.evaluate(() => window.renpyExecLog)).length;

  // A new browser joins the account while B's game runs: it publishes its key, gets B's
  // persistent, and its game saves its own.
  const a = await playedBefore({ key: PUB_A });
  await signIn(a, user);
  await waitStatus(a, "s.lastReport && s.lastReport.downloaded.includes('persistent')");
  assert.equal((await idb(a, "get", `${ROOT}/persistent`)).text, "B's persistent", "a fresh browser takes it whole");
  await idb(a, "put", `${ROOT}/persistent`, { text: "A's persistent" });
  assert.deepEqual((await syncNow(a)).uploaded, ["persistent"]);

  const report = await syncNow(b);
  assert.deepEqual(report.merged, ["persistent"]);
  assert.deepEqual(report.downloaded, []);
  assert.equal((await gameStat(b, "persistent")).text, "B's persistent", "the local persistent is untouched");
  const delivered = await gameStat(b, "sync/persistent");
  assert.equal(delivered.text, "A's persistent");
  assert.ok(Math.abs(delivered.time - Date.now()) < 60_000, "delivered with mtime now, so Ren'Py merges it");
  assert.equal((await idb(b, "get", `${ROOT}/sync/persistent`)).text, "A's persistent", "persisted");
  assert.ok((await idb(b, "get", KEY_FILE)).text.includes(`verifying-key ${PUB_A}\n`), "A's key in B's key file");

  // What B asked its running Ren'Py to do, in order: trust A's key, then rescan and merge.
  const execs = (await b.evaluate(() => window.renpyExecLog)).slice(execsBefore);
  assert.equal(execs.length, 2, JSON.stringify(execs));
  assert.match(execs[0], new RegExp(`base64\\.b64decode\\(key\\)`));
  assert.ok(execs[0].includes(`('${PUB_A}',)`), execs[0]);
  assert.equal(execs[1], "renpy.loadsave.location.scan()\nrenpy.persistent.update()");

  // The trust script is valid Python that does what Ren'Py does on "trust", once, and
  // leaves the store alone — run as Ren'Py web runs renpy_exec (py_exec(hide=True)).
  const python = spawnSync("python3", ["-c", RENPY_EXEC_EMULATION, execs[0], PUB_B], { encoding: "utf8" });
  assert.equal(python.status, 0, python.stderr);
  assert.deepEqual(JSON.parse(python.stdout), { trusted: [PUB_B, PUB_A], store: ["renpy"] });
  await a.context().close();
  await b.context().close();
});

// Ren'Py web's renpy_exec, reduced: renpy-pre.js wraps the script as
// `exec(base64.b64decode(<script>).decode('utf-8'))`, and Ren'Py runs that with
// `renpy.python.py_exec(cmd, hide=True)`: `exec(code, store, {})`. The store's `renpy`
// stands in for Ren'Py's, with one key already trusted. Run twice: the second run must
// add nothing.
const RENPY_EXEC_EMULATION = `
import base64, json, sys, types
script, known = sys.argv[1], sys.argv[2]
renpy = types.SimpleNamespace(savetoken=types.SimpleNamespace(verifying_keys=[base64.b64decode(known)]))
store = {"renpy": renpy}
wrapper = "exec(base64.b64decode('%s').decode('utf-8'))" % base64.b64encode(script.encode()).decode()
for _ in range(2):
    exec(compile("import base64\\n" + wrapper, "<js>", "exec"), store, {})
print(json.dumps({
    "trusted": [base64.b64encode(k).decode() for k in renpy.savetoken.verifying_keys],
    "store": sorted(k for k in store if k != "__builtins__"),
}))
`;

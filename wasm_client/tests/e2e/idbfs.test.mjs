// The client against the real Emscripten IDBFS (a C program built with Debian's emcc whose
// page mounts IDBFS exactly like Ren'Py's web shell), and the traps seen on it.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { MOUNT, ROOT, boot, gameRead, gameSave, idb, setUp, signIn, syncNow, syncfs, waitStatus } from "./support.mjs";

let t;
before(async () => {
  t = await setUp();
});
after(async () => {
  await t.close();
});

test("files the client wrote before boot are loaded by the game, and its next syncfs keeps everything", async () => {
  const user = t.uniqueUser();
  // Browser A: the game had saved (one Uint8Array and one Int8Array record); push them.
  const a = await t.open(await t.profile(), { hold: true });
  await signIn(a, user, { signUp: true });
  await idb(a, "put", ROOT, { dir: true });
  await idb(a, "put", `${ROOT}/1-1-LT1.save`, { text: "slot one", time: 1_700_000_001_000 });
  await idb(a, "put", `${ROOT}/persistent`, { text: "persistent data", int8: true, time: 1_700_000_002_000 });
  const up = await syncNow(a);
  assert.deepEqual([...up.uploaded].sort(), ["1-1-LT1.save", "persistent"]);

  // Browser B, game not booted: another game's save is already there.
  const b = await t.open(await t.profile(), { hold: true });
  await idb(b, "put", `${MOUNT}/Other-1`, { dir: true });
  await idb(b, "put", `${MOUNT}/Other-1/1-1-LT1.save`, { text: "other game" });
  await signIn(b, user);
  const status = await waitStatus(b, "s.lastReport && s.lastReport.downloaded.length === 2");
  assert.equal(status.phase, "idle");
  for (const key of [ROOT, `${ROOT}/1-1-LT1.save`, `${ROOT}/persistent`]) {
    const rec = await idb(b, "get", key);
    assert.equal(rec.timestampType, "[object Date]", `${key} timestamp`);
  }
  assert.equal((await idb(b, "get", `${ROOT}/1-1-LT1.save`)).time, 1_700_000_001_000, "mtime kept");

  await boot(b);
  assert.equal(await b.evaluate(() => window.bootError ?? null), null, "boot load succeeded");
  assert.equal(await gameRead(b, "1-1-LT1.save"), "slot one");
  assert.equal(await gameRead(b, "persistent"), "persistent data");
  assert.equal(await syncfs(b), null, "the game's next syncfs(false) succeeds");
  const keys = await idb(b, "keys");
  for (const key of [`${MOUNT}/Other-1/1-1-LT1.save`, `${ROOT}/1-1-LT1.save`, `${ROOT}/persistent`]) {
    assert.ok(keys.includes(key), `${key} survived the game's syncfs`);
  }
  assert.equal((await idb(b, "get", `${MOUNT}/Other-1/1-1-LT1.save`)).text, "other game");
  await a.context().close();
  await b.context().close();
});

test("files the game saved are pushed after its syncfs and pulled by another browser", async () => {
  const user = t.uniqueUser();
  const b = await t.open(await t.profile(), { hold: true });
  await signIn(b, user, { signUp: true });
  await boot(b);
  await waitStatus(b, "s.gameRunning && s.phase === 'idle'");
  assert.equal(await gameSave(b, "2-1-LT1.save", "saved in game"), null);
  await waitStatus(b, "s.lastReport && s.lastReport.uploaded.includes('2-1-LT1.save')");
  // What Emscripten itself stored for a file written through stdio.
  const rec = await idb(b, "get", `${ROOT}/2-1-LT1.save`);
  assert.match(rec.contentsType, /^\[object (Int8|Uint8)Array\]$/);
  assert.equal(rec.mode, 33206);

  const a = await t.open(await t.profile(), { hold: true });
  await signIn(a, user);
  await waitStatus(a, "s.lastReport && s.lastReport.downloaded.includes('2-1-LT1.save')");
  assert.equal((await idb(a, "get", `${ROOT}/2-1-LT1.save`)).text, "saved in game");
  await a.context().close();
  await b.context().close();
});

test("trap: a number timestamp makes every later syncfs(false) fail (the client never writes one)", async () => {
  const page = await t.open(await t.profile(), { hold: true });
  await idb(page, "put", `${MOUNT}/Trap-1`, { dir: true });
  await idb(page, "put", `${MOUNT}/Trap-1/1-1-LT1.save`, { text: "x", numberTimestamp: true });
  await boot(page);
  const err = await syncfs(page);
  assert.ok(err, "the real IDBFS fails on a number timestamp");
  await page.context().close();
});

test("trap: file records without their parent directory record fail the boot and are then deleted", async () => {
  const page = await t.open(await t.profile(), { hold: true });
  // Two good saves whose folder record `${MOUNT}/Orphan-1` is missing.
  await idb(page, "put", `${MOUNT}/Orphan-1/1-1-LT1.save`, { text: "a real save" });
  await idb(page, "put", `${MOUNT}/Orphan-1/2-1-LT1.save`, { text: "another real save" });
  await boot(page);
  assert.ok(await page.evaluate(() => window.bootError), "boot load fails");
  await syncfs(page);
  const keys = await idb(page, "keys");
  for (const name of ["1-1-LT1.save", "2-1-LT1.save"]) {
    assert.ok(!keys.includes(`${MOUNT}/Orphan-1/${name}`), `${name} was destroyed by the next syncfs`);
  }
  await page.context().close();
});

// End to end with the real server: boot pull before the game starts, conflicts without
// loss, an offline browser that delivers later, a reload in the middle of an upload.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ROOT, boot, gameRead, gameSave, idb, setUp, signIn, syncNow, waitGame, waitStatus } from "./support.mjs";

let t;
before(async () => {
  t = await setUp();
});
after(async () => {
  await t.close();
});

/** A signed-in browser whose game has not booted, with `files` saved and pushed. */
async function seeded(user, files, { signUp = false } = {}) {
  const page = await t.open(await t.profile(), { hold: true });
  await signIn(page, user, { signUp });
  await idb(page, "put", ROOT, { dir: true });
  for (const [name, text] of Object.entries(files)) {
    await idb(page, "put", `${ROOT}/${name}`, { text });
  }
  if (Object.keys(files).length) await syncNow(page);
  return page;
}

test("a signed-in browser pulls new saves before the game starts", async () => {
  const user = t.uniqueUser();
  const b = await seeded(user, {}, { signUp: true });
  const a = await seeded(user, { "3-1-LT1.save": "from A" });
  // B reloads: the glue holds the game's IndexedDB load until its pull is done.
  await b.goto(`${t.game.origin}/index.html`);
  await waitGame(b);
  assert.equal(await gameRead(b, "3-1-LT1.save"), "from A", "present when main() started");
  assert.deepEqual(await b.evaluate(() => window.renpyExecLog), [], "no rescan was needed");
  await a.context().close();
  await b.context().close();
});

test("a conflict keeps both saves (keep-both) and nothing is lost", async () => {
  const user = t.uniqueUser();
  const a = await seeded(user, { "1-1-LT1.save": "base" }, { signUp: true });
  const b = await seeded(user, {});
  await syncNow(b);
  assert.equal((await idb(b, "get", `${ROOT}/1-1-LT1.save`)).text, "base");

  await idb(a, "put", `${ROOT}/1-1-LT1.save`, { text: "A's progress" });
  await idb(b, "put", `${ROOT}/1-1-LT1.save`, { text: "B's progress" });
  await syncNow(a);
  const report = await syncNow(b);
  assert.equal(report.conflicts.length, 1);
  const copy = report.conflicts[0].kept_copy;
  assert.ok(copy, "the other side was kept as a copy");
  assert.equal((await idb(b, "get", `${ROOT}/1-1-LT1.save`)).text, "B's progress");
  assert.equal((await idb(b, "get", `${ROOT}/${copy}`)).text, "A's progress");
  // And A converges to the same two files.
  await syncNow(a);
  const aTexts = [
    (await idb(a, "get", `${ROOT}/1-1-LT1.save`)).text,
    (await idb(a, "get", `${ROOT}/${copy}`)).text,
  ].sort();
  assert.deepEqual(aTexts, ["A's progress", "B's progress"]);
  await a.context().close();
  await b.context().close();
});

test("an offline browser queues its save and delivers it after reconnecting", async () => {
  const user = t.uniqueUser();
  const a = await seeded(user, {}, { signUp: true });
  await boot(a);
  await waitStatus(a, "s.gameRunning && s.phase === 'idle'");
  await a.context().setOffline(true);
  assert.equal(await gameSave(a, "4-1-LT1.save", "made offline"), null);
  await waitStatus(a, "s.phase === 'offline'");
  await a.context().setOffline(false);
  // The 'online' event (or the retry timer) sends it.
  await waitStatus(a, "s.phase === 'idle' && s.lastReport && s.lastReport.uploaded.includes('4-1-LT1.save')", 60000);

  const b = await seeded(user, {});
  await syncNow(b);
  assert.equal((await idb(b, "get", `${ROOT}/4-1-LT1.save`)).text, "made offline");
  await a.context().close();
  await b.context().close();
});

test("a reload in the middle of an upload loses nothing", async () => {
  const user = t.uniqueUser();
  const a = await seeded(user, {}, { signUp: true });
  await boot(a);
  await waitStatus(a, "s.gameRunning && s.phase === 'idle'");
  // Hold blob uploads so that the page reloads while one is in flight.
  let held = 0;
  await a.context().route("**/v1/blobs/**", async (route) => {
    if (route.request().method() === "PUT") {
      held += 1;
      await new Promise((r) => setTimeout(r, 3000));
    }
    await route.continue().catch(() => {});
  });
  const big = "x".repeat(300 * 1024);
  assert.equal(await gameSave(a, "5-1-LT1.save", big), null);
  await waitStatus(a, "s.phase === 'syncing'");
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(held >= 1, "an upload was in flight");
  await a.context().unroute("**/v1/blobs/**");
  // Reload (this time letting the game boot by itself).
  await a.goto(`${t.game.origin}/index.html`);
  await waitGame(a);
  await waitStatus(a, "s.phase === 'idle' && s.lastSync !== null");

  const b = await seeded(user, {});
  await syncNow(b);
  const rec = await idb(b, "get", `${ROOT}/5-1-LT1.save`);
  assert.ok(rec, "the save reached the server");
  assert.equal(rec.text.length, big.length);
  await a.context().close();
  await b.context().close();
});

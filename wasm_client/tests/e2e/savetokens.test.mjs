// Ren'Py save-token keys: the browsers of one account trust each other's keys (appended to
// tokens/security_keys.txt before the game boots), so a synced `persistent` is accepted.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { MOUNT, idb, setUp, signIn } from "./support.mjs";

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

async function browserWithKey(publicKey) {
  const page = await t.open(await t.profile(), { hold: true });
  await idb(page, "put", `${MOUNT}/tokens`, { dir: true });
  await idb(page, "put", KEY_FILE, { text: `signing-key UFJJVkFURQ== ${publicKey}\n` });
  return page;
}

async function keyFile(page) {
  return (await idb(page, "get", KEY_FILE)).text;
}

test("two browsers of one account trust each other's save-token keys before boot", async () => {
  const user = t.uniqueUser();
  const a = await browserWithKey(PUB_A);
  await signIn(a, user, { signUp: true });
  const b = await browserWithKey(PUB_B);
  await signIn(b, user);
  await b.waitForFunction(
    async ([key]) => {
      const db = await new Promise((r) => {
        const q = indexedDB.open("/home/web_user/.renpy");
        q.onsuccess = () => r(q.result);
      });
      const get = db.transaction("FILE_DATA").objectStore("FILE_DATA").get(key);
      const v = await new Promise((r) => (get.onsuccess = () => r(get.result)));
      db.close();
      return new TextDecoder().decode(v.contents).includes("verifying-key");
    },
    [KEY_FILE],
  );
  const bText = await keyFile(b);
  assert.ok(bText.startsWith(`signing-key UFJJVkFURQ== ${PUB_B}\n`), "B's own key untouched");
  assert.ok(bText.includes(`verifying-key ${PUB_A}\n`), "B trusts A");
  assert.ok(!bText.includes(`verifying-key ${PUB_B}`), "B does not list itself");

  // A learns B's key on its next boot.
  await a.goto(`${t.game.origin}/index.html?hold`);
  await a.waitForFunction(() => RenpyCloud.status().phase === "idle");
  assert.ok((await keyFile(a)).includes(`verifying-key ${PUB_B}\n`), "A trusts B");
  await a.context().close();
  await b.context().close();
});

// The web demo's whole story, in headless Chromium against the real server: sign up on
// device A, link B with a pairing code, saves travelling both ways, delete, persistent, a
// conflict made offline and shown side by side, history and restore; then the demo
// embedded by an allowed portal and refused by another one.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import { Api, PASSWORD, eventually, newPage, setUp } from "./support.mjs";

let t;
before(async () => {
  t = await setUp();
});
after(async () => {
  await t?.close();
});

const shot = (page, name) => page.screenshot({ path: join(t.artifacts, `${name}.png`) });

/** The Frame of a device (`a` or `b`) inside `page` (or inside `page`'s demo frame). */
async function device(root, which) {
  const frame = await eventually(async () => {
    const el = await root.$(`#device-${which}`);
    const f = el && (await el.contentFrame());
    return f && (await f.$("body[data-ready=true]")) ? f : null;
  }, 30000, `device ${which} to boot`);
  return frame;
}

const statusOf = (f) => f.locator("#status");
const slot = (f, file) => f.locator(`.slot[data-file="${file}"]`);
const saveName = (f, file) => slot(f, file).locator(".save-name");

async function waitPhase(f, phase, ms = 20000) {
  await f.locator(`#status[data-phase="${phase}"]`).waitFor({ timeout: ms });
}

async function saveSlot(f, file, name, scene) {
  await f.locator("#save-name").fill(name);
  await f.locator("#scene").selectOption(scene);
  await slot(f, file).getByRole("button", { name: /^Save to/ }).click();
  await saveName(f, file).filter({ hasText: name }).waitFor();
}

test("two devices: pairing, sync, delete, persistent, conflict, history and restore", async () => {
  const problems = [];
  const page = await newPage(t.browser, problems);
  await page.goto(`${t.server.url}/`);
  const a = await device(page, "a");
  const b = await device(page, "b");
  assert.equal(new URL(a.url()).searchParams.get("ns"), "device-a");
  assert.equal(new URL(b.url()).searchParams.get("ns"), "device-b", "each device has its own IndexedDB namespace");
  await waitPhase(a, "signed-out");
  await waitPhase(b, "signed-out");
  await shot(page, "01-start");

  // Sign up on A; B has no account and no saves (its own IndexedDB).
  const user = `demo${Date.now() % 1e8}`;
  await a.locator("#username").fill(user);
  await a.locator("#password").fill(PASSWORD);
  await a.getByRole("button", { name: "Sign up" }).click();
  await waitPhase(a, "idle");
  assert.equal(await a.locator("#who").textContent(), user);

  // Pairing: A shows a code, the page hands it to B, B links without a password.
  await a.getByRole("button", { name: "Show a pairing code" }).click();
  // The code arrives from the server after the click: wait for it, do not race it.
  const shownCode = async () => ((await a.locator("#code").textContent()) ?? "").trim();
  await eventually(async () => /\S{4,}/.test(await shownCode()), 10000, "pairing code shown on A");
  const code = await shownCode();
  await eventually(async () => (await b.locator("#pair-code").inputValue()) === code, 10000, "code relayed to B");
  await b.getByRole("button", { name: "Link device" }).click();
  await waitPhase(b, "idle");
  assert.equal(await b.locator("#who").textContent(), user);
  const api = new Api(t.server.url);
  await api.login(user, PASSWORD);
  const devices = await api.call("GET", "/v1/devices");
  const names = JSON.stringify(devices);
  assert.ok(names.includes("Device A") && names.includes("Device B"), names);

  // A save on A appears on B, with its screenshot; the server holds its metadata.
  await saveSlot(a, "1-1-LT1.save", "Beach walk", "beach");
  await saveName(b, "1-1-LT1.save").filter({ hasText: "Beach walk" }).waitFor({ timeout: 20000 });
  assert.ok(await slot(b, "1-1-LT1.save").locator("img").isVisible());
  const e1 = await eventually(() => api.entry("1-1-LT1.save"), 10000, "slot 1 on the server");
  assert.equal(e1.meta.save_name, "Beach walk");
  assert.equal(e1.meta.extra.device, "Device A");
  assert.equal(e1.meta.has_screenshot, true);
  await shot(page, "02-synced");

  // And the other way round; then a delete travels too (a tombstone on the server).
  await saveSlot(b, "1-2-LT1.save", "In the library", "library");
  await saveName(a, "1-2-LT1.save").filter({ hasText: "In the library" }).waitFor({ timeout: 20000 });
  await slot(a, "1-2-LT1.save").getByRole("button", { name: /^Delete/ }).click();
  await slot(b, "1-2-LT1.save").locator(".empty-shot").waitFor({ timeout: 20000 });
  assert.equal((await api.entry("1-2-LT1.save")).deleted, true);

  // Persistent: an ending reached on B shows on A.
  await b.getByRole("button", { name: "Reach an ending" }).click();
  await a.locator("#endings", { hasText: "1" }).waitFor({ timeout: 20000 });
  assert.ok(await api.entry("persistent"), "persistent is on the server");

  // A conflict: both offline, both save slot 1, A reconnects, then B.
  await a.locator("#offline").check();
  await b.locator("#offline").check();
  await waitPhase(a, "offline");
  await waitPhase(b, "offline");
  await saveSlot(a, "1-1-LT1.save", "A: rooftop at night", "rooftop");
  await saveSlot(b, "1-1-LT1.save", "B: back to the library", "library");
  await shot(page, "03-both-offline");
  assert.equal((await api.entry("1-1-LT1.save")).meta.save_name, "Beach walk", "nothing reached the server");
  await a.locator("#offline").uncheck();
  await eventually(async () => (await api.entry("1-1-LT1.save")).meta.save_name === "A: rooftop at night", 20000, "A's save uploaded");
  await b.locator("#offline").uncheck();
  const dialog = b.locator("#conflict-dialog");
  await dialog.waitFor({ state: "visible", timeout: 20000 });
  const versions = dialog.locator(".version");
  assert.equal(await versions.count(), 2);
  const mine = await versions.nth(0).textContent();
  const other = await versions.nth(1).textContent();
  assert.match(mine, /B: back to the library/);
  assert.match(mine, /Device B/);
  assert.match(other, /A: rooftop at night/);
  assert.match(other, /Device A/);
  assert.match(other, /slot 10-1/);
  assert.match(await dialog.locator("#conflict-policy").textContent(), /keep-both/);
  assert.equal(await versions.locator("img").count(), 2, "both screenshots shown");
  await shot(page, "04-conflict");
  await dialog.getByRole("button", { name: "Keep both" }).click();
  // Nothing lost: B's save keeps slot 1, A's is in slot 10-1, on both devices and the server.
  await saveName(b, "10-1-LT1.save").filter({ hasText: "A: rooftop at night" }).waitFor();
  await saveName(a, "1-1-LT1.save").filter({ hasText: "B: back to the library" }).waitFor({ timeout: 20000 });
  await saveName(a, "10-1-LT1.save").filter({ hasText: "A: rooftop at night" }).waitFor({ timeout: 20000 });
  await eventually(async () => (await api.entry("10-1-LT1.save"))?.meta.save_name === "A: rooftop at night", 10000, "copy on server");
  assert.equal((await api.entry("1-1-LT1.save")).meta.save_name, "B: back to the library");

  // History: slot 1's versions, newest first; restore the first one ("Beach walk") on A.
  await slot(a, "1-1-LT1.save").getByRole("button", { name: /^History/ }).click();
  const history = a.locator("#history-dialog");
  await history.locator(".history-item").first().waitFor().catch(async (e) => {
    await shot(page, "failed-history");
    throw new Error(`${e.message}; page says: ${await a.locator("#account-error").textContent()}`);
  });
  const items = history.locator(".history-item");
  assert.ok((await items.count()) >= 3, await history.textContent());
  assert.match(await items.first().textContent(), /current/);
  const beach = items.filter({ hasText: "Beach walk" });
  await shot(page, "05-history");
  await beach.getByRole("button", { name: /^Restore/ }).click();
  await history.locator(".history-item", { hasText: "Beach walk" }).filter({ hasText: "current" }).waitFor({ timeout: 20000 });
  await history.getByRole("button", { name: "Close" }).click();
  await saveName(a, "1-1-LT1.save").filter({ hasText: "Beach walk" }).waitFor();
  await saveName(b, "1-1-LT1.save").filter({ hasText: "Beach walk" }).waitFor({ timeout: 20000 });
  assert.equal((await api.entry("1-1-LT1.save")).meta.save_name, "Beach walk");
  const h = await api.history("1-1-LT1.save");
  assert.ok(h.versions.some((v) => v.meta?.save_name === "B: back to the library"), "the replaced save stays in history");
  await waitPhase(a, "idle");
  await waitPhase(b, "idle");
  await shot(page, "06-restored");

  // Policy "Ask me" on B: the next conflict waits; B sees both sides (read by the client's
  // core, the other one downloaded) and picks A's. B's own version stays in the history.
  await b.locator("#policy").selectOption("manual");
  await a.locator("#offline").check();
  await b.locator("#offline").check();
  await waitPhase(a, "offline");
  await waitPhase(b, "offline");
  await saveSlot(a, "1-2-LT1.save", "A: the beach again", "beach");
  await saveSlot(b, "1-2-LT1.save", "B: up on the roof", "rooftop");
  await a.locator("#offline").uncheck();
  await eventually(async () => (await api.entry("1-2-LT1.save"))?.meta.save_name === "A: the beach again", 20000, "A's save uploaded");
  await b.locator("#offline").uncheck();
  await dialog.waitFor({ state: "visible", timeout: 20000 });
  assert.match(await dialog.locator("#conflict-policy").textContent(), /manual/);
  const sides = dialog.locator(".version");
  assert.equal(await sides.count(), 2);
  const ours = await sides.nth(0).textContent();
  const theirs = await sides.nth(1).textContent();
  assert.match(ours, /B: up on the roof/);
  assert.match(ours, /Device B/);
  assert.match(theirs, /The version from Device A/);
  assert.match(theirs, /A: the beach again/);
  assert.equal(await sides.locator("img").count(), 2, "both screenshots, the other one downloaded");
  assert.equal((await api.entry("1-2-LT1.save")).meta.save_name, "A: the beach again", "nothing decided yet");
  await shot(page, "07-ask-me");
  await dialog.getByRole("button", { name: "Keep the other device's version of slot 1-2" }).click();
  await saveName(b, "1-2-LT1.save").filter({ hasText: "A: the beach again" }).waitFor({ timeout: 20000 });
  await eventually(
    async () => (await api.history("1-2-LT1.save")).versions.some((v) => v.meta?.save_name === "B: up on the roof"),
    20000,
    "B's version kept in history",
  );
  assert.equal((await api.entry("1-2-LT1.save")).meta.save_name, "A: the beach again");
  await waitPhase(a, "idle");
  await waitPhase(b, "idle");
  assert.deepEqual(problems, []);
  await page.context().close();
});

test("embedded by an allowed portal it works; another origin may not frame it", async () => {
  const problems = [];
  const page = await newPage(t.browser, problems);
  const response = await page.goto(`${t.allowed.origin}/`);
  assert.equal(response.status(), 200);
  const demo = await eventually(async () => {
    const el = await page.$("#demo");
    const f = el && (await el.contentFrame());
    return f && (await f.$("#device-a")) ? f : null;
  }, 20000, "demo inside the portal");
  const a = await device(demo, "a");
  const b = await device(demo, "b");
  await waitPhase(a, "signed-out");
  await waitPhase(b, "signed-out");
  const user = `portal${Date.now() % 1e8}`;
  await a.locator("#username").fill(user);
  await a.locator("#password").fill(PASSWORD);
  await a.getByRole("button", { name: "Sign up" }).click();
  await waitPhase(a, "idle");
  await saveSlot(a, "1-3-LT1.save", "Saved inside a portal", "beach");
  const api = new Api(t.server.url);
  await api.login(user, PASSWORD);
  await eventually(async () => (await api.entry("1-3-LT1.save"))?.meta.save_name === "Saved inside a portal", 20000, "portal save uploaded");
  await shot(page, "08-in-portal");
  assert.deepEqual(problems, []);

  const csp = (await (await fetch(`${t.server.url}/`)).headers.get("content-security-policy")) || "";
  assert.match(csp, new RegExp(`frame-ancestors 'self' .*${t.allowed.origin.replace(/\./g, "\\.")}`));
  assert.ok(!csp.includes(t.forbidden.origin));

  // A portal that is not in --allow-origin: Chromium refuses to render the demo in its frame.
  const blocked = await newPage(t.browser, []);
  await blocked.goto(`${t.forbidden.origin}/`);
  await new Promise((r) => setTimeout(r, 1500));
  const frame = await (await blocked.$("#demo")).contentFrame();
  const rendered = frame ? await frame.$("#device-a").catch(() => null) : null;
  assert.equal(rendered, null, "the demo must not render inside a foreign origin");
  await page.context().close();
  await blocked.context().close();
});

// `cargo xtask bench web-clicks`: how many syncs a web session of 100 clicks causes on a game
// that saves `persistent` at every interaction (Ren'Py 8.3.1+ on the web runs
// `renpy.persistent.update()` each interaction, which saves and calls FS.syncfs(false)).
// Real Chromium, the real server on loopback, the real Emscripten IDBFS stand-in game with
// the renpy-cloud package injected (RENPY_CLOUD_TEST_GAME). Prints figures; asserts only
// that the last click's persistent reached the server (a benchmark that loses data is void).
//
// A sync is counted per `POST /v1/games/<game>/changes` (every sync makes exactly one, after
// its local scan) and, as a cross-check, per start the glue reports (status phase
// "syncing"); the 5 s figures are given for both, since a scan's length moves the POST.

import { createHash } from "node:crypto";
import { PASSWORD, ROOT, boot, gameSave, idb, setUp, signIn, syncNow, waitStatus } from "../e2e/support.mjs";

const CLICKS = Number(process.env.RENPY_CLOUD_BENCH_CLICKS || 100);
const CLICK_MS = Number(process.env.RENPY_CLOUD_BENCH_CLICK_MS || 300);
const WINDOW_MS = 5000;
const SETTLE_MS = 12000; // after the last click: longer than any debounce or gap

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Most events of `times` (sorted ms) in any half-open window of `span` ms. */
function maxInWindow(times, span) {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi] - times[lo] >= span) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

const t = await setUp();
try {
  // The package's own defaults (no periodicSeconds override), as a game ships it.
  const context = await t.browser.newContext();
  await context.addInitScript((server) => {
    window.RENPY_CLOUD_CONFIG = { server };
  }, t.server.url);
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(`${t.game.origin}/index.html?hold`);
  await page.waitForFunction(() => window.RenpyCloud !== undefined);
  const user = t.uniqueUser();
  await signIn(page, user, { signUp: true });
  await idb(page, "put", ROOT, { dir: true });
  await boot(page);
  await waitStatus(page, "s.gameRunning && s.phase === 'idle'");
  await syncNow(page);
  await sleep(6000); // let any follow-up of the start settle

  const syncs = [];
  let requests = 0;
  let recording = false;
  const start = Date.now();
  page.on("request", (r) => {
    if (!recording || !r.url().startsWith(t.server.url)) return;
    requests += 1;
    if (r.method() === "POST" && /\/v1\/games\/[^/]+\/changes/.test(r.url())) syncs.push(Date.now() - start);
  });
  // Sync starts as the glue reports them, on the page's clock.
  await page.evaluate(() => {
    window.benchStarts = [];
    let previous = RenpyCloud.status().phase;
    RenpyCloud.onStatus((s) => {
      if (s.phase === "syncing" && previous !== "syncing") window.benchStarts.push(performance.now());
      previous = s.phase;
    });
  });
  recording = true;
  let last = "";
  let lastClick = 0;
  for (let i = 1; i <= CLICKS; i++) {
    // One interaction: Ren'Py saves persistent, then FS.syncfs(false).
    last = `persistent after click ${i} of ${CLICKS}`;
    lastClick = Date.now() - start;
    const err = await gameSave(page, "persistent", last);
    if (err) throw new Error(`syncfs failed at click ${i}: ${err}`);
    if (i < CLICKS) await sleep(CLICK_MS);
  }
  await sleep(SETTLE_MS);
  recording = false;
  const starts = await page.evaluate(() => window.benchStarts);

  // The last click's persistent must be on the server.
  const login = await fetch(`${t.server.url}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: user, password: PASSWORD, device_name: "bench observer" }),
  }).then((r) => r.json());
  const manifest = await fetch(`${t.server.url}/v1/games/e2e-game/manifest`, {
    headers: { authorization: `Bearer ${login.access_token}` },
  }).then((r) => r.json());
  const entry = manifest.entries.find((e) => e.path === "persistent");
  const want = createHash("sha256").update(last).digest("hex");
  const delivered = entry && entry.sha256 === want;
  const lastSync = syncs.length ? syncs[syncs.length - 1] : null;

  console.log(`web session of ${CLICKS} clicks (one persistent save + FS.syncfs(false) each, every ${CLICK_MS} ms)`);
  console.log(`   package          ${process.env.RENPY_CLOUD_BENCH_LABEL || "this checkout"}`);
  console.log(`   clicks           ${String(CLICKS).padStart(8)}      over ${(lastClick / 1000).toFixed(1)} s`);
  console.log(`   syncs            ${String(syncs.length).padStart(8)}      (POST …/changes, until ${SETTLE_MS / 1000} s after the last click)`);
  console.log(`   requests         ${String(requests).padStart(8)}      (every request to the server)`);
  const minGap = (times) =>
    times.length < 2 ? "-" : `${(Math.min(...times.slice(1).map((x, i) => x - times[i])) / 1000).toFixed(3)} s`;
  console.log(`   sync starts      ${String(starts.length).padStart(8)}      (status phase "syncing")`);
  console.log(
    `   max syncs in 5 s ${String(maxInWindow(starts, WINDOW_MS)).padStart(8)}      starts (goal ≤ 1); ${maxInWindow(syncs, WINDOW_MS)} by POST …/changes`,
  );
  console.log(`   least gap        ${minGap(starts).padStart(8)}    between starts; ${minGap(syncs)} between POSTs`);
  const shown = syncs.slice(0, 20).map((x) => (x / 1000).toFixed(2));
  console.log(`   POSTs at (s)     ${shown.join(" ")}${syncs.length > 20 ? " …" : ""}`);
  console.log(
    `   last click synced ${delivered ? "yes" : "NO"}${lastSync !== null ? `, by a sync ${((lastSync - lastClick) / 1000).toFixed(1)} s after it` : ""}`,
  );
  await context.close();
  if (!delivered) {
    console.error("the last click's persistent is not on the server: the figures above are void");
    process.exitCode = 1;
  }
} finally {
  await t.close();
}

// The browser client's session follows the core's rule (sync_core::client::session): the
// access token is refreshed shortly before it expires, so a call after that point never
// goes out with a dead token (no 401 round trip).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setUp, signIn, syncNow } from "./support.mjs";

let t;
before(async () => {
  // Two-second access tokens: the client refreshes within the last quarter (0.5 s).
  t = await setUp({ serverArgs: ["--access-ttl-secs", "2"] });
});
after(async () => {
  await t.close();
});

test("an access token about to expire is refreshed before the call, not after a 401", async () => {
  const page = await t.open(await t.profile());
  await signIn(page, t.uniqueUser(), { signUp: true });
  assert.ok(await syncNow(page), "a first sync with the fresh token");
  const seen = [];
  page.on("response", (r) => {
    const url = new URL(r.url());
    seen.push({ path: url.pathname, status: r.status(), method: r.request().method() });
  });
  // Past the refresh margin (1.5 s of 2 s); later is fine too: then it has expired.
  await page.waitForTimeout(1700);
  assert.ok(await syncNow(page), "the sync after the margin succeeds");
  const refreshes = seen.filter((r) => r.path === "/v1/auth/refresh" && r.method === "POST");
  assert.equal(refreshes.length, 1, JSON.stringify(seen));
  assert.deepEqual(seen.filter((r) => r.status === 401), [], "no call went out with a dead token");
});

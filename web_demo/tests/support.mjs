// Set-up of the demo tests: renpy-cloud-server serving the assembled demo site
// (`--web-root`), small "portal" pages on other origins, the system Chromium via
// playwright-core, and a plain API client to check what the server holds.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const GAME_ID = "renpy-cloud-demo";
export const PASSWORD = "correct horse battery";

// From /work/shared/toolchain.md: without the background-networking flags Chromium's own
// connections are refused by the closed network.
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage",
];

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run the tests with: cargo xtask demo-test)`);
  return value;
}

/** A free loopback port (bound, read, released). */
function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A one-page "portal" on its own port that embeds `src` in an iframe. */
async function portal(src) {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      `<!doctype html><html lang="en"><head><title>A game portal</title></head><body style="margin:0;font:14px sans-serif">` +
        `<p style="padding:4px 8px;margin:0;background:#222;color:#fff">portal.example — embedding the renpy-cloud demo</p>` +
        `<iframe id="demo" src="${src}" title="renpy-cloud demo" style="width:100%;height:1100px;border:0"></iframe></body></html>`,
    );
  });
  const port = await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Starts renpy-cloud-server on `port` serving the demo; resolves with {url, close}. */
function startServer(port, extraOrigins) {
  const dataDir = mkdtempSync(join(tmpdir(), "renpy-cloud-demo-"));
  const args = ["--bind", `127.0.0.1:${port}`, "--data-dir", dataDir, "--web-root", env("RENPY_CLOUD_DEMO_SITE")];
  for (const o of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, ...extraOrigins]) {
    args.push("--allow-origin", o);
  }
  const child = spawn(env("RENPY_CLOUD_SERVER_BIN"), args, {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.on("exit", (code) => reject(new Error(`server exited early (${code})`)));
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (/listening on http:\/\/\S+/.test(out)) {
        child.removeAllListeners("exit");
        resolve({
          url: `http://127.0.0.1:${port}`,
          close: async () => {
            child.kill("SIGTERM");
            await new Promise((r) => child.once("exit", r));
            rmSync(dataDir, { recursive: true, force: true });
          },
        });
      }
    });
  });
}

export async function setUp() {
  const port = await freePort();
  // The allowed portal embeds the demo; the other one is not in --allow-origin.
  const allowed = await portal(`http://127.0.0.1:${port}/`);
  const forbidden = await portal(`http://127.0.0.1:${port}/`);
  const server = await startServer(port, [allowed.origin]);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
  const artifacts = env("RENPY_CLOUD_DEMO_ARTIFACTS");
  mkdirSync(artifacts, { recursive: true });
  return {
    server,
    port,
    allowed,
    forbidden,
    browser,
    artifacts,
    async close() {
      await browser.close();
      await server.close();
      await allowed.close();
      await forbidden.close();
    },
  };
}

/** A page that fails the test on any page error or CSP violation in any frame. */
export async function newPage(browser, problems) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to fetch \(network off|ERR_INTERNET_DISCONNECTED/.test(m.text())) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  return page;
}

/** Plain API calls, to check what the server holds. */
export class Api {
  constructor(base) {
    this.base = base;
    this.token = null;
  }
  async call(method, path, body) {
    const headers = { "content-type": "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const r = await fetch(`${this.base}${path}`, { method, headers, body: body && JSON.stringify(body) });
    const json = await r.json().catch(() => null);
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  }
  async login(username, password) {
    const t = await this.call("POST", "/v1/auth/login", { username, password, device_name: "test observer" });
    this.token = t.access_token;
    return t;
  }
  async entry(path) {
    const m = await this.call("GET", `/v1/games/${GAME_ID}/manifest`);
    return m.entries.find((e) => e.path === path) || null;
  }
  history(path) {
    return this.call("GET", `/v1/games/${GAME_ID}/history?path=${encodeURIComponent(path)}`);
  }
}

/** Retries `fn` until it returns a truthy value (or throws its last error after `ms`). */
export async function eventually(fn, ms = 20000, what = "condition") {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// Shared set-up of the browser tests: the real renpy-cloud-server on loopback, a static
// server for the Emscripten stand-in game (with renpy-cloud injected by `cargo xtask
// web-inject`), and the system Chromium driven by playwright-core.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

export const SAVE_DIR = "E2E-1700000000";
export const MOUNT = "/home/web_user/.renpy";
export const ROOT = `${MOUNT}/${SAVE_DIR}`;
export const PASSWORD = "correct horse battery";

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage",
];

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run the tests with: cargo xtask web-test)`);
  return value;
}

/** Serves the test game directory on 127.0.0.1; resolves with {origin, close}. */
function serveGame(dir) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(dir, path.endsWith("/") ? `${path}index.html` : path);
    if (!file.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] || "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        origin: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((r) => server.close(r)),
      }),
    ),
  );
}

/** Starts renpy-cloud-server on a free port; resolves with {url, close}. */
function startServer(origin, extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), "renpy-cloud-e2e-"));
  const child = spawn(
    env("RENPY_CLOUD_SERVER_BIN"),
    ["--bind", "127.0.0.1:0", "--data-dir", dataDir, "--allow-origin", origin, ...extraArgs],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.on("exit", (code) => reject(new Error(`server exited early (${code})`)));
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        child.removeAllListeners("exit");
        resolve({
          url: m[1],
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

/** Everything one test file needs; `close()` stops it all. `serverArgs` go to the server. */
export async function setUp({ serverArgs = [] } = {}) {
  const game = await serveGame(env("RENPY_CLOUD_TEST_GAME"));
  const server = await startServer(game.origin, serverArgs);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
  let users = 0;
  const env_ = {
    game,
    server,
    browser,
    /** A fresh browser profile (its own IndexedDB), with the page's config pointed at our server. */
    async profile(extraConfig = {}) {
      const context = await browser.newContext();
      const config = { server: server.url, periodicSeconds: 0, ...extraConfig };
      await context.addInitScript((c) => {
        window.RENPY_CLOUD_CONFIG = c;
      }, config);
      return context;
    },
    /** Opens the game page; `hold` keeps the game from booting until `boot(page)`. */
    async open(context, { hold = false } = {}) {
      const page = await context.newPage();
      page.on("pageerror", (e) => console.error("page error:", e.message));
      await page.goto(`${game.origin}/index.html${hold ? "?hold" : ""}`);
      await page.waitForFunction(() => window.RenpyCloud !== undefined);
      return page;
    },
    uniqueUser() {
      users += 1;
      return `player${Date.now() % 1e8}_${users}`;
    },
    async close() {
      await browser.close();
      await server.close();
      await game.close();
    },
  };
  return env_;
}

/** Boots a held game and waits until its main() ran. */
export async function boot(page) {
  await page.evaluate(() => window.bootGame());
  await page.waitForFunction(() => window.gameReady === true, null, { timeout: 30000 });
}

/** Waits until the game ran on a page that boots by itself. */
export async function waitGame(page) {
  await page.waitForFunction(() => window.gameReady === true, null, { timeout: 30000 });
}

/** Raw IDBFS access in the page, the way Emscripten itself stores records. */
export async function idb(page, op, ...args) {
  return page.evaluate(
    async ([op, args]) => {
      const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open("/home/web_user/.renpy", 21);
        r.onupgradeneeded = () => {
          const s = r.result.createObjectStore("FILE_DATA");
          s.createIndex("timestamp", "timestamp", { unique: false });
        };
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const done = (req) =>
        new Promise((res, rej) => {
          req.onsuccess = () => res(req.result);
          req.onerror = () => rej(req.error);
        });
      try {
        const store = (mode) => db.transaction("FILE_DATA", mode).objectStore("FILE_DATA");
        if (op === "keys") return await done(store("readonly").getAllKeys());
        if (op === "get") {
          const v = await done(store("readonly").get(args[0]));
          if (!v) return null;
          return {
            mode: v.mode,
            timestampType: Object.prototype.toString.call(v.timestamp),
            time: v.timestamp instanceof Date ? v.timestamp.getTime() : v.timestamp,
            contentsType: v.contents ? Object.prototype.toString.call(v.contents) : null,
            text: v.contents
              ? new TextDecoder().decode(new Uint8Array(v.contents.buffer, v.contents.byteOffset, v.contents.byteLength))
              : null,
          };
        }
        if (op === "delete") {
          const tx = db.transaction("FILE_DATA", "readwrite");
          tx.objectStore("FILE_DATA").delete(args[0]);
          await new Promise((res, rej) => {
            tx.oncomplete = res;
            tx.onerror = () => rej(tx.error);
          });
          return true;
        }
        if (op === "put") {
          // args: [key, {dir?, text?, int8?, numberTimestamp?, time?}]
          const [key, spec] = args;
          const time = spec.time ?? Date.now();
          const timestamp = spec.numberTimestamp ? time : new Date(time);
          let value;
          if (spec.dir) value = { timestamp, mode: 16895 };
          else {
            const bytes = new TextEncoder().encode(spec.text);
            const contents = spec.int8 ? new Int8Array(bytes.buffer) : bytes;
            value = { timestamp, mode: 33206, contents };
          }
          const tx = db.transaction("FILE_DATA", "readwrite");
          tx.objectStore("FILE_DATA").put(value, key);
          await new Promise((res, rej) => {
            tx.oncomplete = res;
            tx.onerror = () => rej(tx.error);
          });
          return true;
        }
        throw new Error(`unknown op ${op}`);
      } finally {
        db.close();
      }
    },
    [op, args],
  );
}

/** Writes a save the way Ren'Py does: stdio in the program, then FS.syncfs(false). */
export async function gameSave(page, name, text) {
  return page.evaluate(
    async ([root, name, text]) => {
      Module.ccall("game_mkdir", "number", ["string"], [root]);
      const rc = Module.ccall("game_save", "number", ["string", "string"], [`${root}/${name}`, text]);
      if (rc !== 0) throw new Error(`game_save failed: ${rc}`);
      return new Promise((resolve) => FS.syncfs(false, (err) => resolve(err ? String(err) : null)));
    },
    [ROOT, name, text],
  );
}

/** Creates a folder under the save directory in the running program (as Ren'Py creates
 * its `sync/` location at start). */
export async function gameMkdir(page, name) {
  return page.evaluate(
    ([path]) => Module.ccall("game_mkdir", "number", ["string"], [path]),
    [`${ROOT}/${name}`],
  );
}

/** {text, time} of a file of the running program's FS, or null. */
export async function gameStat(page, name) {
  return page.evaluate(
    ([path]) => {
      if (!FS.analyzePath(path).exists) return null;
      return { text: new TextDecoder().decode(FS.readFile(path)), time: FS.stat(path).mtime.getTime() };
    },
    [`${ROOT}/${name}`],
  );
}

/**
 * What Ren'Py (8.1+, web) shows for a slot: of its copies in the save directory and in
 * `sync/`, the one with the newest mtime, the save directory winning ties
 * (`MultiLocation.newest`). Read from IndexedDB before boot, from the FS once the game runs.
 * Resolves with {text, time, copies} (null when no location has it).
 */
export async function renpyShows(page, name, { running }) {
  const copies = [];
  for (const at of [name, `sync/${name}`]) {
    const copy = running ? await gameStat(page, at) : await idb(page, "get", `${ROOT}/${at}`);
    if (copy) copies.push({ at, text: copy.text, time: copy.time });
  }
  let newest = null;
  for (const c of copies) if (!newest || c.time > newest.time) newest = c;
  return newest && { text: newest.text, time: newest.time, copies: copies.length };
}

/** The text of a file as the running program sees it, or null. */
export async function gameRead(page, name) {
  return page.evaluate(
    ([path]) => {
      if (Module.ccall("game_size", "number", ["string"], [path]) < 0) return null;
      return new TextDecoder().decode(FS.readFile(path));
    },
    [`${ROOT}/${name}`],
  );
}

/** Runs the page's FS.syncfs(false); resolves with the error text or null (an exception
 * thrown inside IDBFS's IndexedDB callbacks never reaches the callback: it is caught as an
 * uncaught page error). */
export async function syncfs(page) {
  return page.evaluate(
    () =>
      new Promise((resolve) => {
        window.addEventListener("error", (e) => resolve(String(e.message)), { once: true });
        try {
          FS.syncfs(false, (err) => resolve(err ? String(err.message || err.errno || err) : null));
        } catch (e) {
          resolve(String(e.message || e));
        }
      }),
  );
}

/** Signs a page in (or up) and waits for the resulting sync. */
export async function signIn(page, user, { signUp = false } = {}) {
  await page.evaluate(
    async ([user, password, signUp]) => {
      await (signUp ? RenpyCloud.signUp(user, password) : RenpyCloud.signIn(user, password));
    },
    [user, PASSWORD, signUp],
  );
}

export async function syncNow(page) {
  return page.evaluate(() => RenpyCloud.syncNow());
}

/** Waits until the status satisfies `predicate` (a function source over `s`). */
export async function waitStatus(page, predicate, timeout = 20000) {
  await page.waitForFunction(
    (src) => new Function("s", `return (${src});`)(RenpyCloud.status()),
    predicate,
    { timeout },
  );
  return page.evaluate(() => RenpyCloud.status());
}

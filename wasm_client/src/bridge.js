// The few JavaScript calls the Rust side needs, kept as plain functions so that all
// decisions stay in Rust: IndexedDB request/transaction → Promise bridges, fetch, and the
// Emscripten FS calls of a running game. wasm-bindgen ships this file next to the module.

// ---- IndexedDB ----

/** Opens (creating or upgrading as needed) a database of the given kind. */
export function idbOpen(name, version, kind) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, version);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (kind === "idbfs") {
        // Exactly what Emscripten's IDBFS.getDB creates (libidbfs.js): no keyPath, and a
        // non-unique `timestamp` index.
        const store = db.objectStoreNames.contains("FILE_DATA")
          ? request.transaction.objectStore("FILE_DATA")
          : db.createObjectStore("FILE_DATA");
        if (!store.indexNames.contains("timestamp")) {
          store.createIndex("timestamp", "timestamp", { unique: false });
        }
      } else if (!db.objectStoreNames.contains("kv")) {
        db.createObjectStore("kv");
      }
    };
    request.onsuccess = () => {
      const db = request.result;
      // Never block another page's upgrade or deletion of this database.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new DOMException(`database ${name} is blocked`, "BlockedError"));
  });
}

/** Resolves with a request's result once it succeeds. */
export function idbDone(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Resolves when a transaction commits; rejects when it fails or aborts. */
export function txDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException("transaction aborted", "AbortError"));
  });
}

// ---- HTTP ----

/** One HTTP exchange; resolves with {status, retryAfter, body} or rejects (network, timeout). */
export async function httpFetch(url, method, headers, body, keepalive, timeoutMs) {
  const init = { method, headers, keepalive, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) init.body = body;
  const response = await fetch(url, init);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body: bytes };
}

/** Milliseconds since the epoch now. */
export function nowMs() {
  return Date.now();
}

// ---- Emscripten FS of a running game ----

function millis(t) {
  return t instanceof Date ? t.getTime() : Number(t);
}

/** Every regular file under `root`, recursively: [[relativePath, size, mtimeMs], ...]. */
export function fsList(FS, root) {
  const out = [];
  if (!FS.analyzePath(root).exists) return out;
  const walk = (dir, rel) => {
    for (const name of FS.readdir(dir)) {
      if (name === "." || name === "..") continue;
      const path = `${dir}/${name}`;
      const st = FS.stat(path);
      if (FS.isDir(st.mode)) walk(path, `${rel}${name}/`);
      else if (FS.isFile(st.mode)) out.push([`${rel}${name}`, st.size, millis(st.mtime)]);
    }
  };
  walk(root, "");
  return out;
}

/** [isFile, size, mtimeMs, isDir] of a path, or null when it does not exist. */
export function fsStat(FS, path) {
  if (!FS.analyzePath(path).exists) return null;
  const st = FS.stat(path);
  return [FS.isFile(st.mode), st.size, millis(st.mtime), FS.isDir(st.mode)];
}

/** The whole content of a file. */
export function fsRead(FS, path) {
  return FS.readFile(path, { encoding: "binary" });
}

/** Writes a file, creating missing parents under `root`, and sets its mtime. */
export function fsWrite(FS, root, path, bytes, mtimeMs) {
  let dir = root;
  if (!FS.analyzePath(dir).exists) FS.mkdirTree(dir);
  const rel = path.slice(root.length + 1).split("/");
  for (const segment of rel.slice(0, -1)) {
    dir = `${dir}/${segment}`;
    if (!FS.analyzePath(dir).exists) FS.mkdir(dir);
  }
  FS.writeFile(path, bytes);
  FS.utime(path, mtimeMs, mtimeMs);
}

/** Deletes a file. */
export function fsUnlink(FS, path) {
  FS.unlink(path);
}

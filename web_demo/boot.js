// The Emscripten half of a Ren'Py web export's page, reduced to what matters for saves.
// A classic script, so it runs before the module scripts (renpy-cloud.js must find this
// Module and hook its preRun before the game boots).
//
// Ren'Py's `initFs` (renpy-pre.js), copied: mkdir + mount IDBFS at /home/web_user/.renpy +
// FS.syncfs(true), guarded by a run dependency so that main() starts only after IndexedDB
// was loaded into memory.
"use strict";

// Two devices in one browser: each frame gets its own IndexedDB namespace (?ns=a). Every
// database this frame opens — IDBFS's "/home/web_user/.renpy" and the client's
// "renpy-cloud" — is opened as "<ns>:<name>" instead. Both sides still use exactly the names
// of a real web export; only the stored name differs, so the two frames share nothing.
(function () {
  var ns = new URLSearchParams(location.search).get("ns");
  if (!ns || !/^[a-z0-9-]{1,20}$/.test(ns) || !window.indexedDB) return;
  var factory = window.indexedDB;
  var open = factory.open.bind(factory);
  var remove = factory.deleteDatabase.bind(factory);
  factory.open = function (name, version) {
    return version === undefined ? open(ns + ":" + name) : open(ns + ":" + name, version);
  };
  factory.deleteDatabase = function (name) {
    return remove(ns + ":" + name);
  };
})();
function initFs() {
  Module.addRunDependency("initFs");
  FS.mkdir("/home/web_user/.renpy");
  FS.mount(IDBFS, {}, "/home/web_user/.renpy");
  FS.syncfs(true, function (err) {
    if (err) window.bootError = String((err && (err.message || err.errno)) || err);
    Module.removeRunDependency("initFs");
  });
}
var Module = {
  preRun: [initFs],
  print: function (t) { console.log("[game]", t); },
  printErr: function (t) { console.warn("[game]", t); },
  onRuntimeInitialized: function () {
    window.dispatchEvent(new Event("game-ready"));
  },
};

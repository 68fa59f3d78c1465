// The demo page: two device frames, each with its own IndexedDB namespace (device.html?ns=,
// see boot.js), like two browsers; and a small relay between them (the pairing code, and
// "sync now" after an upload so the other device does not wait for its periodic sync).

const here = location.origin;
const frames = { "Device A": document.getElementById("device-a"), "Device B": document.getElementById("device-b") };

for (const [name, frame] of Object.entries(frames)) {
  const url = new URL("device.html", location.href);
  url.searchParams.set("name", name);
  url.searchParams.set("ns", name === "Device A" ? "device-a" : "device-b");
  url.searchParams.set("host", here);
  frame.src = url.href;
}

// Only messages from our two frames (same origin), each passed to the other one.
window.addEventListener("message", (e) => {
  const m = e.data || {};
  if (m.source !== "renpy-cloud-demo" || e.origin !== here) return;
  const from = Object.keys(frames).find((n) => frames[n].contentWindow === e.source);
  if (!from) return;
  const to = from === "Device A" ? "Device B" : "Device A";
  const target = frames[to].contentWindow;
  if (!target) return;
  if (m.type === "pairing-code") target.postMessage({ type: "pairing-code", code: m.code, from }, here);
  if (m.type === "changed") target.postMessage({ type: "sync-now" }, here);
});

// Ren'Py save files, written in the browser by the stand-in game (reading them is the
// client core's job: RenpyCloud.readSave, over sync_core::savemeta).
//
// A Ren'Py save (`<page>-<slot>-LT1.save`) is a ZIP_DEFLATED archive written by Python's
// zipfile with the members `screenshot.png`, `extra_info` (the save name), `json` (what the
// load screen shows: _save_name, _ctime, _game_runtime, _version, _renpy_version, plus keys
// from config.save_json_callbacks), `renpy_version` and `log` (a pickle of the game state).
// The stand-in game writes all of them; its `log` is a placeholder (there is no Python here
// to pickle a game state), which renpy-cloud never opens anyway.

const RENPY_VERSION = [8, 3, 7, 25031702];
const THUMB_W = 384; // config.thumbnail_width
const THUMB_H = 216; // config.thumbnail_height

// ------------------------------------------------------------------ CRC-32 and deflate

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function through(stream, bytes) {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

const deflateRaw = (bytes) => through(new CompressionStream("deflate-raw"), bytes);

/** zlib (RFC 1950) compression, as Python's zlib.compress (Ren'Py's persistent file). */
export const zlibCompress = (bytes) => through(new CompressionStream("deflate"), bytes);
export const zlibDecompress = (bytes) => through(new DecompressionStream("deflate"), bytes);

// ------------------------------------------------------------------ zip writer

/** DOS date and time of a Date (zip's local-time fields). */
function dosTime(d) {
  const time = (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1);
  const date = ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate();
  return [time, date];
}

/** A ZIP_DEFLATED archive of `members` ([[name, Uint8Array], ...]), as Python's zipfile. */
export async function writeZip(members, when = new Date()) {
  const enc = new TextEncoder();
  const [time, date] = dosTime(when);
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, data] of members) {
    const nameBytes = enc.encode(name);
    const packed = await deflateRaw(data);
    const crc = crc32(data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true); // version needed
    local.setUint16(6, 0, true); // flags
    local.setUint16(8, 8, true); // deflate
    local.setUint16(10, time, true);
    local.setUint16(12, date, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, packed.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, nameBytes.length, true);
    local.setUint16(28, 0, true);
    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, 0x0314, true); // made by: Unix, 2.0 (as CPython)
    central.setUint16(6, 20, true);
    central.setUint16(8, 0, true);
    central.setUint16(10, 8, true);
    central.setUint16(12, time, true);
    central.setUint16(14, date, true);
    central.setUint32(16, crc, true);
    central.setUint32(20, packed.length, true);
    central.setUint32(24, data.length, true);
    central.setUint16(28, nameBytes.length, true);
    central.setUint32(38, (0o100644 << 16) >>> 0, true); // external attrs: -rw-r--r--
    central.setUint32(42, offset, true);
    locals.push(new Uint8Array(local.buffer), nameBytes, packed);
    centrals.push(new Uint8Array(central.buffer), nameBytes);
    offset += 30 + nameBytes.length + packed.length;
  }
  const centralSize = centrals.reduce((n, part) => n + part.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, members.length, true);
  end.setUint16(10, members.length, true);
  end.setUint32(12, centralSize, true);
  end.setUint32(16, offset, true);
  return new Uint8Array(await new Blob([...locals, ...centrals, end.buffer]).arrayBuffer());
}

// ------------------------------------------------------------------ screenshots

export const SCENES = {
  beach: { label: "The beach", sky: ["#ffb36b", "#f46f6f"], ground: "#f2d59b" },
  library: { label: "The library", sky: ["#3a2d5c", "#6c4f8c"], ground: "#6b4a2f" },
  rooftop: { label: "The rooftop", sky: ["#0d1b3d", "#2f5fa8"], ground: "#3b3f4a" },
};

/** A PNG thumbnail of the scene, as Ren'Py's `screenshot.png` (384x216). */
export async function drawScreenshot({ scene, saveName, device, slotLabel }) {
  const s = SCENES[scene] || SCENES.beach;
  const canvas = new OffscreenCanvas(THUMB_W, THUMB_H);
  const g = canvas.getContext("2d");
  const sky = g.createLinearGradient(0, 0, 0, THUMB_H);
  sky.addColorStop(0, s.sky[0]);
  sky.addColorStop(1, s.sky[1]);
  g.fillStyle = sky;
  g.fillRect(0, 0, THUMB_W, THUMB_H);
  g.fillStyle = s.ground;
  g.beginPath();
  g.moveTo(0, 150);
  g.quadraticCurveTo(THUMB_W / 2, 120, THUMB_W, 155);
  g.lineTo(THUMB_W, THUMB_H);
  g.lineTo(0, THUMB_H);
  g.fill();
  // The heroine: a simple silhouette.
  g.fillStyle = "rgba(20,20,30,.85)";
  g.beginPath();
  g.arc(290, 100, 18, 0, Math.PI * 2);
  g.fill();
  g.fillRect(274, 118, 32, 56);
  // The dialogue window.
  g.fillStyle = "rgba(0,0,0,.62)";
  g.fillRect(12, 160, THUMB_W - 24, 46);
  g.fillStyle = "#fff";
  g.font = "bold 15px sans-serif";
  g.fillText(saveName || s.label, 22, 180, THUMB_W - 44);
  g.font = "12px sans-serif";
  g.fillText(`${device} · ${slotLabel}`, 22, 198, THUMB_W - 44);
  const blob = await canvas.convertToBlob({ type: "image/png" });
  return new Uint8Array(await blob.arrayBuffer());
}

// ------------------------------------------------------------------ saves

/** The bytes of a Ren'Py save. */
export async function buildSave({ saveName, scene, device, slotLabel, runtime, when = new Date() }) {
  const enc = new TextEncoder();
  const json = {
    _save_name: saveName,
    _renpy_version: RENPY_VERSION,
    _version: "1.0",
    _ctime: when.getTime() / 1000,
    _game_runtime: runtime,
    // Added by the demo's config.save_json_callbacks: shown in conflict dialogs.
    device,
    scene,
  };
  const screenshot = await drawScreenshot({ scene, saveName, device, slotLabel });
  return writeZip(
    [
      ["screenshot.png", screenshot],
      ["extra_info", enc.encode(saveName)],
      ["json", enc.encode(JSON.stringify(json))],
      ["renpy_version", enc.encode(`Ren'Py ${RENPY_VERSION.join(".")}`)],
      // Placeholder for the pickled game state (a real save's `log`).
      ["log", enc.encode(`stand-in game state: scene=${scene}`)],
    ],
    when,
  );
}

"""Real parts for the tests: the renpy-cloud-server binary on loopback, a fault-injecting
TCP proxy in front of it, and Ren'Py-shaped save files."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import threading
import time
import zipfile
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
# A 1x1 PNG: enough for Ren'Py's screenshot member and for comparing bytes.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2"
    "21bc330000000049454e44ae426082"
)


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")


def binary(env: str, name: str) -> Path:
    path = Path(os.environ.get(env) or target_dir() / "debug" / name)
    if not path.exists():
        raise RuntimeError(
            "{} is missing: run `cargo build -p backend -p native_client --bins` "
            "(or set {})".format(path, env)
        )
    return path


def server_binary() -> Path:
    return binary("RENPY_CLOUD_SERVER_BIN", "renpy-cloud-server")


def cli_binary() -> Path:
    return binary("RENPY_CLOUD_CLI_BIN", "renpy-cloud")


class Server:
    """The real server on 127.0.0.1; can be stopped and started again on the same port
    with the same data (an outage)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc: Optional[subprocess.Popen] = None
        self.addr: Optional[str] = None

    @property
    def url(self) -> str:
        return "http://" + str(self.addr)

    def start(self) -> "Server":
        bind = self.addr or "127.0.0.1:0"
        self.proc = subprocess.Popen(
            [
                str(server_binary()),
                "--bind", bind,
                "--data-dir", str(self.data_dir),
                "--rate-limit", "10000", "--rate-burst", "100000",
                "--login-attempts-per-minute", "1000",
                "--pairing-claims-per-minute", "1000",
            ],
            stdout=subprocess.PIPE,
            env=dict(os.environ, RUST_LOG="warn"),
        )
        assert self.proc.stdout is not None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("listening on http://"):
                self.addr = line.strip().split("http://", 1)[1]
                return self
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class FaultProxy:
    """A TCP proxy to `upstream` whose mode can be switched: "forward", "500" (answers
    every request with a JSON 500), "hang" (accepts and never answers) or "refuse"
    (closes at once)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:{}".format(self.sock.getsockname()[1])
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.closed = True
        self.sock.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, self.mode), daemon=True).start()

    def _serve(self, conn: socket.socket, mode: str) -> None:
        try:
            if mode == "forward":
                host, port = self.upstream.rsplit(":", 1)
                up = socket.create_connection((host, int(port)))
                threading.Thread(target=_pipe, args=(up, conn), daemon=True).start()
                _pipe(conn, up)
            elif mode == "500":
                _read_request(conn)
                body = json.dumps({"error": {"code": "internal", "message": "injected"}}).encode()
                conn.sendall(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n"
                    b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
                )
                conn.close()
            elif mode == "hang":
                while not self.closed and conn.recv(65536):
                    pass
            else:
                conn.close()
        except OSError:
            pass


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        rest += chunk


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def make_save(name: str, runtime: float = 10.0, ctime: Optional[float] = None, payload: bytes = b"") -> bytes:
    """A Ren'Py-shaped .save zip: screenshot.png, extra_info, json, renpy_version, log,
    signatures."""
    buf = io.BytesIO()
    meta = {
        "_save_name": name,
        "_renpy_version": [8, 3, 7, 25031702],
        "_version": "1.0",
        "_game_runtime": runtime,
        "_ctime": time.time() if ctime is None else ctime,
    }
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("screenshot.png", PNG_1X1 + name.encode())
        zf.writestr("extra_info", name)
        zf.writestr("json", json.dumps(meta))
        zf.writestr("renpy_version", "Ren'Py 8.3.7")
        zf.writestr("log", b"pickle" + payload + name.encode())
        zf.writestr("signatures", "")
    return buf.getvalue()


def files(folder: Path) -> dict:
    """Relative path -> bytes of every file under `folder`."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)

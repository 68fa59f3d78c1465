//! Loopback helpers: a byte-counting TCP proxy and a plain HTTP PUT sink for comparison.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Incompressible bytes (a save's screenshot and pickle barely compress either).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64 ^ fastrand::u64(..);
    for chunk in v.chunks_mut(8) {
        // xorshift64*: fast and good enough for filler.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    v
}

/// Forwards every connection on `listener` to `upstream`, counting client→server bytes.
pub fn spawn_proxy(listener: TcpListener, upstream: String, sent: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let sent = sent.clone();
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            std::thread::spawn(move || pump(client, server, Some(sent)));
            std::thread::spawn(move || pump(s2, c2, None));
        }
    });
}

fn pump(mut from: TcpStream, mut to: TcpStream, count: Option<Arc<AtomicU64>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(c) = &count {
                    c.fetch_add(n as u64, Ordering::SeqCst);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// A minimal HTTP/1.1 server that reads a PUT body and answers 204: the baseline. With
/// `durable`, it writes the body to a file and fsyncs it first, as a storing server must.
pub struct PutSink {
    port: u16,
    _dir: tempfile::TempDir,
}

impl PutSink {
    pub fn start(durable: bool) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let dir = tempfile::tempdir()?;
        let target = durable.then(|| dir.path().join("body"));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let target = target.clone();
                std::thread::spawn(move || serve(stream, target));
            }
        });
        Ok(Self { port, _dir: dir })
    }

    /// Time of one PUT of `bytes` with `ureq`, the client renpy-cloud uses.
    pub fn time_put(&self, bytes: &[u8]) -> Result<Duration> {
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let url = format!("http://127.0.0.1:{}/blob", self.port);
        let started = Instant::now();
        agent.put(&url).send(bytes).context("plain PUT")?;
        Ok(started.elapsed())
    }
}

fn serve(stream: TcpStream, target: Option<std::path::PathBuf>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    loop {
        let mut length = 0u64;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = (&mut reader).take(length);
        let stored = match &target {
            None => std::io::copy(&mut body, &mut std::io::sink()).map(drop),
            Some(path) => std::fs::File::create(path).and_then(|mut f| {
                std::io::copy(&mut body, &mut f)?;
                f.sync_all()
            }),
        };
        if stored.is_err() {
            return;
        }
        if writer
            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

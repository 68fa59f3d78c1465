//! Ren'Py 8.3.4: Debian trixie in a chroot, cached outside the checkout so a clean clone
//! reuses it: `$RENPY_CLOUD_TRIXIE_ROOT`, default `${XDG_CACHE_HOME:-~/.cache}/renpy-cloud/
//! trixie-8.3`.
//!
//! Built in `<root>.partial` (`debootstrap --variant=minbase trixie`, then `apt-get install
//! --no-install-recommends renpy renpy-thequestion xvfb xauth` inside), the marker file
//! written last and the folder renamed into place, so a chroot without the marker is never
//! used; an interrupted build is removed and redone. `/proc`, `/sys` and `/dev` are mounted
//! inside when missing (the Python harness does the same before each session, since mounts
//! do not survive a reboot). The marker's name is shared with
//! `integrations/renpy/tests/harness/engines.py`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::as_root;
use crate::run::status;

pub const MARKER: &str = ".renpy-cloud-complete";
const PACKAGES: &[&str] = &["renpy", "renpy-thequestion", "xvfb", "xauth"];
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// The complete chroot's path, creating it if needed; its mounts are in place.
pub fn ensure() -> Result<PathBuf> {
    let dir = path();
    if !dir.join(MARKER).exists() {
        build(&dir)?;
    } else {
        eprintln!("renpy-test: Ren'Py 8.3.4 chroot ready at {}", dir.display());
    }
    mount_into(&dir)?;
    Ok(dir)
}

pub fn path() -> PathBuf {
    if let Some(p) = std::env::var_os("RENPY_CLOUD_TRIXIE_ROOT") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    cache.join("renpy-cloud").join("trixie-8.3")
}

fn build(dir: &Path) -> Result<()> {
    let mut partial_name = dir.file_name().unwrap_or_default().to_owned();
    partial_name.push(".partial");
    let partial = dir.with_file_name(partial_name);
    // Leftovers of an interrupted build (or a chroot without the marker).
    for old in [&partial, &dir.to_path_buf()] {
        if old.exists() {
            eprintln!("renpy-test: removing incomplete chroot {}", old.display());
            remove(old)?;
        }
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mirror = mirror();
    let mut debootstrap = as_root("debootstrap");
    debootstrap
        .args(["--variant=minbase", "trixie"])
        .arg(&partial)
        .arg(&mirror);
    status(debootstrap)?;
    mount_into(&partial)?;
    let mut install = as_root("chroot");
    install
        .arg(&partial)
        .args(["apt-get", "install", "-y", "--no-install-recommends"])
        .args(PACKAGES)
        .env("DEBIAN_FRONTEND", "noninteractive");
    status(install)?;
    let mut clean = as_root("chroot");
    clean.arg(&partial).args(["apt-get", "clean"]);
    status(clean)?;
    unmount_under(&partial)?;
    std::fs::write(
        partial.join(MARKER),
        format!(
            "debootstrap trixie from {mirror}; installed {}\n",
            PACKAGES.join(" ")
        ),
    )?;
    std::fs::rename(&partial, dir)
        .with_context(|| format!("cannot move {} to {}", partial.display(), dir.display()))?;
    eprintln!(
        "renpy-test: Ren'Py 8.3.4 chroot created at {}",
        dir.display()
    );
    Ok(())
}

/// `RENPY_CLOUD_DEBIAN_MIRROR`, else the host's first Debian archive in its apt sources.
fn mirror() -> String {
    if let Ok(m) = std::env::var("RENPY_CLOUD_DEBIAN_MIRROR") {
        return m;
    }
    let mut sources = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        sources.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
    }
    sources
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|line| {
            let line = line.trim();
            let uri = line.strip_prefix("URIs:").map(str::trim).or_else(|| {
                line.strip_prefix("deb ")
                    .and_then(|r| r.split_whitespace().find(|w| w.contains("://")))
            })?;
            (uri.ends_with("/debian") || uri.ends_with("/debian/")).then(|| uri.to_owned())
        })
        .next()
        .unwrap_or_else(|| DEFAULT_MIRROR.to_owned())
}

/// Mounts `/proc`, `/sys` and `/dev` into the chroot where they are not mounted yet.
fn mount_into(dir: &Path) -> Result<()> {
    let dir = &std::fs::canonicalize(dir)?;
    let mounted = mount_points();
    let mounts: [(&str, &[&str]); 3] = [
        ("proc", &["-t", "proc", "proc"]),
        ("sys", &["-t", "sysfs", "sysfs"]),
        ("dev", &["--bind", "/dev"]),
    ];
    for (name, how) in mounts {
        let target = dir.join(name);
        if !mounted.contains(&target) {
            let mut m = as_root("mount");
            m.args(how).arg(&target);
            status(m)?;
        }
    }
    Ok(())
}

/// Unmounts everything mounted below `dir`, deepest first; fails if anything stays.
fn unmount_under(dir: &Path) -> Result<()> {
    // mountinfo lists resolved paths.
    let dir = &std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut below: Vec<PathBuf> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(dir) && m != dir)
        .collect();
    below.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for m in &below {
        let mut u = as_root("umount");
        u.arg(m);
        status(u)?;
    }
    if let Some(left) = mount_points().into_iter().find(|m| m.starts_with(dir)) {
        bail!("{} is still mounted", left.display());
    }
    Ok(())
}

/// Removes a chroot tree, never following into a mount (its /dev is the host's).
fn remove(dir: &Path) -> Result<()> {
    unmount_under(dir)?;
    let mut rm = as_root("rm");
    rm.args(["-rf", "--one-file-system"]).arg(dir);
    status(rm)
}

/// Every mount point of this process's mount namespace (`/proc/self/mountinfo`, field 5).
fn mount_points() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
fn unescape_mountinfo(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            match u8::from_str_radix(&code, 8) {
                Ok(b) => out.push(char::from(b)),
                Err(_) => {
                    out.push('\\');
                    out.push_str(&code);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

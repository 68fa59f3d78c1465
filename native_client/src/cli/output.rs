//! Human-readable lines for results, and the transfer progress bar.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use sync_core::client::conflicts::{ConflictPreview, SideView};
use sync_core::engine::{Phase, Progress, SyncReport};
use sync_core::policy::Side;
use sync_core::protocol::{HistoryResponse, UnixMillis};

/// The lines a sync report prints: a summary, then waiting conflicts.
pub fn sync_summary(report: &SyncReport) -> Vec<String> {
    let mut parts = Vec::new();
    let counted = [
        ("↑", "uploaded", report.uploaded.len()),
        ("↓", "downloaded", report.downloaded.len()),
        ("⇄", "left for Ren'Py to merge", report.merged.len()),
        ("✗", "deleted here", report.deleted_local.len()),
        ("✗", "deleted on the server", report.deleted_remote.len()),
    ];
    for (arrow, what, n) in counted {
        if n > 0 {
            parts.push(format!("{arrow} {n} {what}"));
        }
    }
    let groups = [
        ("kept both", Some(true), None),
        ("kept this device's version", Some(false), Some(Side::Local)),
        ("kept the server's version", Some(false), Some(Side::Remote)),
    ];
    for (label, kept_both, winner) in groups {
        let paths: Vec<String> = report
            .conflicts
            .iter()
            .filter(|c| Some(c.kept_copy.is_some()) == kept_both)
            .filter(|c| winner.is_none_or(|w| c.winner == w))
            .map(|c| c.path.to_string())
            .collect();
        if !paths.is_empty() {
            parts.push(format!(
                "{} {label}: {}",
                plural(paths.len(), "conflict"),
                paths.join(", ")
            ));
        }
    }
    let mut lines = vec![if parts.is_empty() {
        "already up to date".to_owned()
    } else {
        parts.join(", ")
    }];
    if report.conflicts.iter().any(|c| c.kept_copy.is_none()) {
        lines.push("the other side of each conflict is kept in the file's history".into());
    }
    if !report.deferred.is_empty() {
        let paths: Vec<String> = report.deferred.iter().map(ToString::to_string).collect();
        lines.push(format!(
            "{} changed during the sync and will go next time: {}",
            plural(paths.len(), "file"),
            paths.join(", ")
        ));
    }
    if !report.pending_manual.is_empty() {
        let paths: Vec<String> = report
            .pending_manual
            .iter()
            .map(|p| p.path.to_string())
            .collect();
        lines.push(format!(
            "{} waiting for your decision: {} (use `resolve FILE --keep local|remote|both`)",
            plural(paths.len(), "conflict"),
            paths.join(", ")
        ));
    }
    lines
}

/// One line per stored version, newest first.
/// `device_names` maps device ids to names (ids are shown for unknown devices).
pub fn history_lines(
    history: &HistoryResponse,
    device_names: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut lines = vec![format!("{}:", history.path)];
    for v in &history.versions {
        let mut tags = Vec::new();
        if v.current {
            tags.push("current");
        }
        if v.deleted {
            tags.push("deleted");
        }
        if v.archived {
            tags.push("kept from a conflict");
        }
        let name = v
            .meta
            .as_ref()
            .and_then(|m| m.save_name.as_deref())
            .filter(|n| !n.is_empty())
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", tags.join(", "))
        };
        lines.push(format!(
            "  v{:<4} {}  {:>9}  from {}{name}{tags}",
            v.version,
            format_utc(v.mtime.unwrap_or(v.committed_at)),
            format_size(v.size),
            device_names.get(&v.device_id).unwrap_or(&v.device_id),
        ));
    }
    lines
}

/// A waiting conflict's two sides, one line each.
pub fn conflict_lines(preview: &ConflictPreview) -> Vec<String> {
    let view = &preview.view;
    let side = |label: &str, side: Option<&SideView>| match side {
        None => format!("  {label}: deleted"),
        Some(s) if s.deleted => format!(
            "  {label}: deleted on {}",
            s.device_name
                .as_deref()
                .or(s.device_id.as_deref())
                .unwrap_or("another device")
        ),
        Some(s) => {
            let meta = s.meta.as_ref();
            let name = meta
                .and_then(|m| m.save_name.as_deref())
                .filter(|n| !n.is_empty())
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default();
            let played = meta
                .and_then(|m| m.game_runtime)
                .map(|t| format!(", played {}", format_runtime(t)))
                .unwrap_or_default();
            let when = s
                .mtime
                .map(format_utc)
                .unwrap_or_else(|| "unknown time".into());
            let from = s
                .device_name
                .as_deref()
                .or(s.device_id.as_deref())
                .unwrap_or("another device");
            format!("  {label}: {when} from {from}{name}{played}")
        }
    };
    vec![
        format!("{}:", view.path),
        side("this device", view.local.as_ref()),
        side("the server  ", view.remote.as_ref()),
    ]
}

fn format_runtime(seconds: f64) -> String {
    let minutes = (seconds.max(0.0) / 60.0).round() as u64;
    if minutes < 60 {
        format!("{minutes} min")
    } else {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

pub fn format_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

/// `YYYY-MM-DD HH:MM UTC` (no time-zone database needed).
pub fn format_utc(ms: UnixMillis) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Transfers big enough to deserve a bar.
const BAR_MIN_BYTES: u64 = 1 << 20;

/// A byte progress bar during long uploads and downloads, only on a terminal.
pub struct ProgressDisplay {
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl ProgressDisplay {
    pub fn new(json: bool) -> Self {
        Self {
            enabled: !json && std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    pub fn update(&mut self, progress: &Progress) {
        if !self.enabled {
            return;
        }
        let label = match progress.phase {
            Phase::Uploading => "uploading",
            Phase::Downloading => "downloading",
            _ => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                return;
            }
        };
        if progress.bytes_total < BAR_MIN_BYTES {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(progress.bytes_total);
            if let Ok(style) =
                ProgressStyle::with_template("{msg:12} [{bar:30}] {bytes}/{total_bytes} ({eta})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_length(progress.bytes_total);
        bar.set_position(progress.bytes_done);
        bar.set_message(label);
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_700_000_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(format_utc(-60_000), "1969-12-31 23:59 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    fn p(raw: &str) -> sync_core::SavePath {
        sync_core::SavePath::new(raw).expect("valid path")
    }

    #[test]
    fn sync_summary_lines() {
        assert_eq!(sync_summary(&SyncReport::default()), ["already up to date"]);
        let report = SyncReport {
            uploaded: vec![p("1-1-LT1.save"), p("persistent")],
            downloaded: vec![p("2-1-LT1.save")],
            conflicts: vec![
                sync_core::engine::ConflictReport {
                    path: p("9-1-LT1.save"),
                    policy: sync_core::policy::ConflictPolicy::KeepBoth,
                    winner: Side::Local,
                    kept_copy: Some(p("10-1-LT1.save")),
                },
                sync_core::engine::ConflictReport {
                    path: p("3-1-LT1.save"),
                    policy: sync_core::policy::ConflictPolicy::Remote,
                    winner: Side::Remote,
                    kept_copy: None,
                },
            ],
            ..SyncReport::default()
        };
        assert_eq!(
            sync_summary(&report),
            [
                "↑ 2 uploaded, ↓ 1 downloaded, 1 conflict kept both: 9-1-LT1.save, \
                 1 conflict kept the server's version: 3-1-LT1.save",
                "the other side of each conflict is kept in the file's history",
            ]
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(format_size(10), "10 B");
        assert_eq!(format_size(2048), "2.0 KiB");
        assert_eq!(format_size(3 << 20), "3.0 MiB");
    }
}

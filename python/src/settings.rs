//! The client's settings, checked once up front so a typo fails at `Client(...)` with a
//! message naming the setting, not later inside a background sync.

use std::path::PathBuf;
use std::time::Duration;

use native_client::http::Timeouts;
use native_client::profile::normalize_server;
use sync_core::GameId;
use sync_core::policy::ConflictPolicy;

/// Everything one client needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Normalized server URL (no trailing `/`).
    pub server: String,
    pub game: GameId,
    pub save_dir: PathBuf,
    /// The game's `game/` folder (`config.gamedir`): `<game_dir>/saves` is a save location.
    pub game_dir: Option<PathBuf>,
    /// Ren'Py's tokens folder (`renpy.savetoken.token_dir`), for save-token trust.
    pub tokens_dir: Option<PathBuf>,
    pub policy: ConflictPolicy,
    pub device_name: String,
    /// The profile file with sessions; `None`: the CLI's default, shared with `renpy-cloud`.
    pub profile: Option<PathBuf>,
    /// Time between background syncs when nothing asks for one sooner.
    pub interval: Duration,
    pub timeouts: Timeouts,
}

/// A setting that cannot work, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct SettingsError {
    pub setting: &'static str,
    pub message: String,
}

fn bad(setting: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        setting,
        message: message.into(),
    }
}

/// The raw values given from Python.
#[derive(Debug, Clone)]
pub struct RawSettings {
    pub server: String,
    pub game: String,
    pub save_dir: PathBuf,
    pub game_dir: Option<PathBuf>,
    pub tokens_dir: Option<PathBuf>,
    pub policy: String,
    pub device_name: Option<String>,
    pub profile: Option<PathBuf>,
    pub interval: f64,
    pub timeout: f64,
}

/// Shortest background interval: a game that asks for less would hammer the server.
const MIN_INTERVAL_SECS: f64 = 5.0;
/// Shortest request timeout that still works on a slow link.
const MIN_TIMEOUT_SECS: f64 = 0.5;

impl RawSettings {
    /// Checks every value; the first problem is the error.
    pub fn validate(self) -> Result<Settings, SettingsError> {
        let server = normalize_server(&self.server);
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(bad(
                "server",
                format!("must start with http:// or https://, got {:?}", self.server),
            ));
        }
        if server.len() <= "https://".len() || server.contains(char::is_whitespace) {
            return Err(bad("server", format!("{:?} is not a URL", self.server)));
        }
        let game =
            GameId::new(&self.game).map_err(|e| bad("game", format!("{:?}: {e}", self.game)))?;
        if self.save_dir.as_os_str().is_empty() {
            return Err(bad("save_dir", "must not be empty"));
        }
        if self.save_dir.exists() && !self.save_dir.is_dir() {
            return Err(bad(
                "save_dir",
                format!("{} exists and is not a folder", self.save_dir.display()),
            ));
        }
        if let Some(dir) = &self.game_dir
            && !dir.is_dir()
        {
            return Err(bad(
                "game_dir",
                format!("{} is not a folder", dir.display()),
            ));
        }
        let policy = self
            .policy
            .parse()
            .map_err(|e| bad("policy", format!("{e}")))?;
        let device_name = match self.device_name.map(|n| n.trim().to_owned()) {
            Some(n) if n.is_empty() => return Err(bad("device_name", "must not be blank")),
            Some(n) => n,
            None => "Ren'Py game".to_owned(),
        };
        let interval = seconds("interval", self.interval, MIN_INTERVAL_SECS)?;
        let timeout = seconds("timeout", self.timeout, MIN_TIMEOUT_SECS)?;
        let timeouts = Timeouts {
            connect: timeout,
            stall: timeout,
            request: timeout,
            ..Timeouts::default()
        };
        Ok(Settings {
            server,
            game,
            save_dir: self.save_dir,
            game_dir: self.game_dir,
            tokens_dir: self.tokens_dir,
            policy,
            device_name,
            profile: self.profile,
            interval,
            timeouts,
        })
    }
}

fn seconds(setting: &'static str, value: f64, min: f64) -> Result<Duration, SettingsError> {
    if !value.is_finite() || value < min {
        return Err(bad(
            setting,
            format!("must be at least {min} seconds, got {value}"),
        ));
    }
    Duration::try_from_secs_f64(value).map_err(|e| bad(setting, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSettings {
        RawSettings {
            server: "http://127.0.0.1:1/".into(),
            game: "MyGame-1700000000".into(),
            save_dir: PathBuf::from("saves"),
            game_dir: None,
            tokens_dir: None,
            policy: "keep-both".into(),
            device_name: None,
            profile: None,
            interval: 60.0,
            timeout: 30.0,
        }
    }

    #[test]
    fn good_settings_are_normalized() {
        let s = raw().validate().expect("valid");
        assert_eq!(s.server, "http://127.0.0.1:1");
        assert_eq!(s.policy, ConflictPolicy::KeepBoth);
        assert_eq!(s.timeouts.request, Duration::from_secs(30));
    }

    #[test]
    fn each_bad_setting_is_named() {
        type Change = Box<dyn Fn(&mut RawSettings)>;
        let cases: Vec<(&str, Change)> = vec![
            ("server", Box::new(|r| r.server = "ftp://x".into())),
            ("server", Box::new(|r| r.server = "http://".into())),
            ("game", Box::new(|r| r.game = "../x".into())),
            ("policy", Box::new(|r| r.policy = "newer".into())),
            (
                "device_name",
                Box::new(|r| r.device_name = Some("  ".into())),
            ),
            ("interval", Box::new(|r| r.interval = 0.1)),
            ("timeout", Box::new(|r| r.timeout = f64::NAN)),
            ("save_dir", Box::new(|r| r.save_dir = PathBuf::new())),
            (
                "game_dir",
                Box::new(|r| r.game_dir = Some(PathBuf::from("/no/such/game/dir"))),
            ),
        ];
        for (setting, change) in cases {
            let mut r = raw();
            change(&mut r);
            let err = r.validate().expect_err(setting);
            assert_eq!(err.setting, setting, "{err}");
        }
    }
}

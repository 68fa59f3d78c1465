//! The `/v1` API's paths: one table for the backend's router (axum's `{name}` syntax) and
//! for every client's transport, so a path is spelled once.

use crate::path::GameId;

pub const HEALTH: &str = "/v1/health";
pub const OPENAPI: &str = "/v1/openapi.json";
pub const SIGNUP: &str = "/v1/auth/signup";
pub const LOGIN: &str = "/v1/auth/login";
pub const REFRESH: &str = "/v1/auth/refresh";
pub const LOGOUT: &str = "/v1/auth/logout";
pub const DEVICES: &str = "/v1/devices";
pub const DEVICE: &str = "/v1/devices/{device_id}";
pub const DEVICE_KEYS: &str = "/v1/device-keys";
pub const PAIRING: &str = "/v1/pairing";
pub const PAIRING_CLAIM: &str = "/v1/pairing/claim";
pub const CHANGES: &str = "/v1/games/{game}/changes";
pub const COMMIT: &str = "/v1/games/{game}/commit";
pub const MANIFEST: &str = "/v1/games/{game}/manifest";
pub const DOWNLOADS: &str = "/v1/games/{game}/downloads";
pub const HISTORY: &str = "/v1/games/{game}/history";
pub const RESTORE: &str = "/v1/games/{game}/restore";
pub const BLOB: &str = "/v1/blobs/{ticket}";

/// A per-game route for `game` (a valid [`GameId`] needs no escaping).
pub fn for_game(route: &str, game: &GameId) -> String {
    route.replace("{game}", game.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_routes_fill_in_the_game() {
        let game = GameId::new("MyGame-1700000000").expect("valid");
        assert_eq!(
            for_game(CHANGES, &game),
            "/v1/games/MyGame-1700000000/changes"
        );
    }
}

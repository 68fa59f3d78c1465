//! signup, login, pair, devices, logout.

use serde_json::json;
use sync_core::client::ErrorCode;
use sync_core::client::errors::ErrorClass;
use sync_core::protocol::{Credentials, PairingClaim};
use sync_core::transport::{TransportError, TransportErrorKind};

use super::args::CredentialArgs;
use super::output::format_utc;
use super::{CliError, Context, Outcome};
use crate::session::Session;

/// `signup` (creates the account) or `login`.
pub fn sign_in(ctx: &Context, args: &CredentialArgs, signup: bool) -> Result<Outcome, CliError> {
    let credentials = Credentials {
        username: args.user.clone(),
        password: args.password.clone(),
        device_name: ctx.device_name.clone(),
    };
    let transport = ctx.transport()?;
    let session = if signup {
        transport.signup(&credentials)
    } else {
        transport.login(&credentials)
    }
    .map_err(sign_in_error)?;
    signed_in(ctx, &session)
}

/// `pair`: print a code, or with `--code` claim one.
pub fn pair(ctx: &Context, code: Option<&str>) -> Result<Outcome, CliError> {
    let transport = match code {
        Some(_) => ctx.transport()?,
        None => ctx.signed_in_transport()?,
    };
    if let Some(code) = code {
        let claim = PairingClaim {
            code: code.trim().to_owned(),
            device_name: ctx.device_name.clone(),
        };
        let session = transport
            .claim_pairing_code(&claim)
            .map_err(sign_in_error)?;
        return signed_in(ctx, &session);
    }
    let pairing = transport.create_pairing_code()?;
    let human = vec![
        format!("pairing code: {}", pairing.code),
        format!("valid until {}", format_utc(pairing.expires_at)),
        format!(
            "on the new device run: renpy-cloud --server {} pair --code {}",
            ctx.server, pairing.code
        ),
    ];
    Ok(Outcome::new(
        json!({"code": pairing.code, "expires_at": pairing.expires_at}),
        human,
    ))
}

/// `devices`: the account's devices.
pub fn devices(ctx: &Context) -> Result<Outcome, CliError> {
    let transport = ctx.signed_in_transport()?;
    let list = transport.devices()?;
    let own = transport.session().map(|s| s.device_id).unwrap_or_default();
    let human = list
        .devices
        .iter()
        .map(|d| {
            let this = if d.device_id == own {
                " (this device)"
            } else {
                ""
            };
            let seen = d
                .last_seen_at
                .map(|t| format!(", last seen {}", format_utc(t)))
                .unwrap_or_default();
            format!("{}  {}{this}{seen}", d.device_id, d.name)
        })
        .collect();
    let json = serde_json::to_value(&list)
        .map_err(|e| CliError::new(ErrorClass::Local, ErrorCode::Internal, e.to_string()))?;
    Ok(Outcome::new(json, human))
}

/// `logout`: revoke the session on the server and forget it locally.
pub fn logout(ctx: &Context) -> Result<Outcome, CliError> {
    let transport = ctx.transport()?;
    if transport.session().is_none() {
        return Ok(Outcome::new(
            json!({"signed_out": false, "server": ctx.server}),
            vec![format!("not signed in to {}", ctx.server)],
        ));
    }
    let result = transport.logout();
    // Forget the tokens either way: the player asked to be signed out of this device.
    ctx.profile.set_session(&ctx.server, None)?;
    result.map_err(|e| {
        let CliError(mut e) = CliError::from(e);
        e.message = format!(
            "signed out locally, but the server did not confirm: {}",
            e.message
        );
        CliError(e)
    })?;
    Ok(Outcome::new(
        json!({"signed_out": true, "server": ctx.server}),
        vec![format!("signed out of {}", ctx.server)],
    ))
}

/// A refused sign-in is not an expired session: say just what the server said.
fn sign_in_error(e: TransportError) -> CliError {
    match e.kind {
        TransportErrorKind::Unauthorized => {
            CliError::new(ErrorClass::Auth, ErrorCode::Unauthorized, e.message)
        }
        _ => e.into(),
    }
}

/// Stores the new session and describes it.
fn signed_in(ctx: &Context, session: &Session) -> Result<Outcome, CliError> {
    // The transport's listener already wrote it; writing again here surfaces a failure.
    ctx.profile.set_session(&ctx.server, Some(session))?;
    let human = vec![format!(
        "signed in to {} as {} (device {}, \"{}\")",
        ctx.server, session.username, session.device_id, ctx.device_name
    )];
    Ok(Outcome::new(
        json!({
            "server": ctx.server,
            "username": session.username,
            "user_id": session.user_id,
            "device_id": session.device_id,
            "device_name": ctx.device_name,
        }),
        human,
    ))
}

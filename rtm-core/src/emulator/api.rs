//! The Web API methods the emulator serves, dispatched by path: `rtm.connect` (and its alias
//! `rtm.start`) and `auth.test`.

use std::sync::atomic::Ordering;

use serde_json::json;
use tokio::time::Instant;
use tracing::debug;

use super::http::{Request, Response};
use super::state::{Shared, lock};

/// Where websocket URLs point.
const WS_PATH: &str = "/websocket/";

/// Dispatches a request to a Web API method.
pub(super) fn route(shared: &Shared, request: &Request) -> Response {
    match request.path.strip_prefix("/api/") {
        Some("rtm.connect" | "rtm.start") => rtm_connect(shared, request),
        Some("auth.test") => auth_test(shared, request),
        Some(_) => api_error("unknown_method"),
        None => Response::text(404, "not found"),
    }
}

/// `rtm.connect`: scripted faults first, then the token, then a fresh websocket URL.
fn rtm_connect(shared: &Shared, request: &Request) -> Response {
    shared.connect_calls.fetch_add(1, Ordering::SeqCst);
    let now = Instant::now();
    let mut connects = lock(&shared.connects);
    if connects.window.as_mut().is_some_and(|w| !w.try_hit(now)) {
        debug!("rtm.connect over the per-second limit");
        return rate_limited(1);
    }
    if connects.rate_limited > 0 {
        connects.rate_limited -= 1;
        return rate_limited(connects.retry_after_secs);
    }
    if let Some(code) = connects.take_failure() {
        return api_error(&code);
    }
    if let Err(code) = check_token(shared, connects.revoked, request) {
        return api_error(code);
    }
    let ticket = connects.issue_ticket(now, now + shared.config.ticket_ttl);
    drop(connects);
    let config = &shared.config;
    Response::json(
        200,
        &json!({
            "ok": true,
            "url": format!("ws://{}{WS_PATH}{ticket}", shared.addr),
            "team": {"id": config.team_id, "name": config.team_name, "domain": config.team_domain},
            "self": {"id": config.self_id, "name": config.self_name},
        }),
    )
}

/// `auth.test`: who the token belongs to.
fn auth_test(shared: &Shared, request: &Request) -> Response {
    let revoked = lock(&shared.connects).revoked;
    if let Err(code) = check_token(shared, revoked, request) {
        return api_error(code);
    }
    let config = &shared.config;
    Response::json(
        200,
        &json!({
            "ok": true,
            "url": format!("http://{}/", shared.addr),
            "team": config.team_name,
            "user": config.self_name,
            "team_id": config.team_id,
            "user_id": config.self_id,
        }),
    )
}

pub(super) fn check_token(shared: &Shared, revoked: bool, request: &Request) -> Result<(), &'static str> {
    match request.token() {
        None => Err("not_authed"),
        Some(token) if token != shared.config.token => Err("invalid_auth"),
        Some(_) if revoked => Err("token_revoked"),
        Some(_) => Ok(()),
    }
}

pub(super) fn api_error(code: &str) -> Response {
    Response::json(200, &json!({"ok": false, "error": code}))
}

pub(super) fn rate_limited(retry_after_secs: u64) -> Response {
    let mut response = Response::json(429, &json!({"ok": false, "error": "ratelimited"}));
    response.extra = Some(("Retry-After", retry_after_secs.to_string()));
    response
}

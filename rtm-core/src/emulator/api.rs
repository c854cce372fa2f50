//! The Web API front door, dispatched by path: every call is recorded with its arguments and
//! encoding, injected faults apply first, then the token is checked. `rtm.connect` (and its
//! alias `rtm.start`) and `auth.test` are answered here, the other methods in
//! [`super::methods`].

use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};
use tokio::time::Instant;
use tracing::debug;

use super::http::{Encoding, Request, Response};
use super::methods::{self, Args};
use super::state::{Shared, lock};
use super::workspace::{DEFAULT_BOT_ID, WebCall, WebFault};
use crate::web::body::accepts_json;

/// Where websocket URLs point.
const WS_PATH: &str = "/websocket/";

/// Dispatches a request to a Web API method: records the call, applies injected faults,
/// checks the token, then answers.
pub(super) fn route(shared: &Shared, request: &Request) -> Response {
    if let Some(id) = request.path.strip_prefix(super::response_url::PATH) {
        return super::response_url::handle(shared, id, request);
    }
    let Some(method) = request.path.strip_prefix("/api/") else {
        return Response::text(404, "not found");
    };
    let encoding = request.encoding();
    let args = match parse_args(request, encoding) {
        Ok(args) => args,
        Err(code) => return api_error(code),
    };
    let mut recorded = args.clone();
    recorded.remove("token");
    lock(&shared.workspace).calls.push(WebCall {
        method: method.to_owned(),
        encoding: encoding.as_str(),
        args: Value::Object(recorded),
    });
    if matches!(method, "rtm.connect" | "rtm.start") {
        return rtm_connect(shared, request);
    }
    let fault = lock(&shared.workspace).take_fault(method);
    if let Some(fault) = fault {
        debug!(method, ?fault, "injected Web API fault");
        return fault_response(&fault);
    }
    if method == "apps.connections.open" {
        if !request.is_post {
            return api_error("insecure_request");
        }
        return super::socket_mode::open(shared, request);
    }
    if method == "chat.postMessage"
        && let Some(poster) = request
            .token()
            .and_then(|token| shared.config.other_poster(&token))
    {
        let poster = methods::Poster {
            user: &poster.user,
            bot_id: poster.bot_id.as_deref(),
            is_self: false,
        };
        return methods::post_message_as(shared, &Args(&args), &poster);
    }
    let revoked = lock(&shared.connects).revoked;
    if let Err(code) = check_token(shared, revoked, request) {
        return api_error(code);
    }
    // Slack's silent-ignore trap (§11.1): a JSON body sent to a form-only method is dropped.
    let args = if encoding == Encoding::Json && !accepts_json(method) {
        Map::new()
    } else {
        args
    };
    if method == "auth.test" {
        return auth_test(shared);
    }
    methods::dispatch(shared, method, &Args(&args)).unwrap_or_else(|| api_error("unknown_method"))
}

/// The arguments of a request, as a JSON object (form and query values are strings).
fn parse_args(request: &Request, encoding: Encoding) -> Result<Map<String, Value>, &'static str> {
    let pairs = |bytes: &[u8]| {
        form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect::<Map<String, Value>>()
    };
    match encoding {
        Encoding::Json => match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("json_not_object"),
            Err(_) => Err("invalid_json"),
        },
        Encoding::Form => Ok(pairs(&request.body)),
        Encoding::Query => Ok(pairs(request.query.as_bytes())),
        Encoding::Other => Ok(Map::new()),
    }
}

fn fault_response(fault: &WebFault) -> Response {
    match fault {
        WebFault::RateLimited { retry_after_secs } => rate_limited(*retry_after_secs),
        WebFault::Status(status) => Response::html(
            *status,
            "<html><body><h1>Bad Gateway</h1><p>The proxy could not reach slack.</p></body></html>",
        ),
        WebFault::Error(code) => api_error(code),
        WebFault::MissingScope { needed, provided } => Response::json(
            200,
            &json!({"ok": false, "error": "missing_scope", "needed": needed, "provided": provided}),
        ),
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
fn auth_test(shared: &Shared) -> Response {
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
            "bot_id": DEFAULT_BOT_ID,
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

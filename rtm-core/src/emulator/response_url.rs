//! Answering interactions (protocol §7.3, §11.8): which pushed envelopes take a response
//! payload in their ack, and `response_url` endpoints.
//!
//! Every `slash_commands` envelope and every `interactive` one whose payload is
//! `block_actions` gets a fresh `payload.response_url` pointing at the emulator
//! (`http://127.0.0.1:<port>/response_url/<id>`). A POST there is recorded
//! ([`Emulator::response_url_posts`]) and accepted [`RESPONSE_URL_MAX_USES`] times, as Slack
//! allows; later ones, and POSTs to unknown ids, are refused. What Slack answers a refused
//! POST with is not documented: the emulator answers `404` with
//! `{"ok": false, "error": "used_too_many_times"}` (or `"expired_url"` for an unknown id), and
//! `400` with `"invalid_payload"` for a body that is not JSON. The 30-minute lifetime is not
//! enforced.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::Emulator;
use super::http::{Request, Response};
use super::state::{Shared, lock};

/// How many answers a `response_url` accepts (Slack: up to 5 within 30 minutes).
pub const RESPONSE_URL_MAX_USES: u32 = 5;

/// Where `response_url`s point.
pub(super) const PATH: &str = "/response_url/";

/// One POST to a `response_url`, as recorded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResponseUrlPost {
    /// The envelope whose payload carried the URL.
    pub envelope_id: String,
    /// The body, parsed as JSON (`Value::Null` when it was not JSON).
    pub body: Value,
    /// Whether the emulator accepted it (at most [`RESPONSE_URL_MAX_USES`] per URL).
    pub accepted: bool,
}

/// The URLs handed out and the POSTs received.
#[derive(Debug)]
pub(super) struct ResponseUrls {
    state: Mutex<State>,
    /// How many POSTs were recorded; waiters watch it.
    count: watch::Sender<usize>,
}

impl Default for ResponseUrls {
    fn default() -> Self {
        ResponseUrls {
            state: Mutex::default(),
            count: watch::Sender::new(0),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    /// URL id → (envelope id, answers accepted so far).
    urls: HashMap<String, (String, u32)>,
    posts: Vec<ResponseUrlPost>,
}

/// Whether an envelope of `kind` with `payload` takes a response payload in its ack: slash
/// commands, view submissions and block suggestions (§7.3).
pub(super) fn accepts_response_payload(kind: &str, payload: &Value) -> bool {
    match kind {
        "slash_commands" => true,
        "interactive" => matches!(
            payload.get("type").and_then(Value::as_str),
            Some("view_submission" | "block_suggestion")
        ),
        _ => false,
    }
}

/// Gives a slash command or block action envelope's payload a `response_url` pointing at the
/// emulator (replacing any given one, so clients only ever post to 127.0.0.1).
pub(super) fn attach(shared: &Shared, kind: &str, envelope_id: &str, payload: &mut Value) {
    let wanted = kind == "slash_commands"
        || (kind == "interactive" && payload.get("type").and_then(Value::as_str) == Some("block_actions"));
    let Some(fields) = payload.as_object_mut().filter(|_| wanted) else {
        return;
    };
    let id = {
        let mut state = lock(&shared.response_urls.state);
        state.next += 1;
        let id = format!("{:016x}{:06x}", fastrand::u64(..), state.next);
        state.urls.insert(id.clone(), (envelope_id.to_owned(), 0));
        id
    };
    fields.insert(
        "response_url".into(),
        Value::String(format!("http://{}{PATH}{id}", shared.addr)),
    );
}

/// A request to `/response_url/<id>`.
pub(super) fn handle(shared: &Shared, id: &str, request: &Request) -> Response {
    if !request.is_post {
        return Response::text(405, "method not allowed");
    }
    let body = serde_json::from_slice::<Value>(&request.body).ok();
    let urls = &shared.response_urls;
    let mut state = lock(&urls.state);
    let Some((envelope_id, uses)) = state.urls.get_mut(id) else {
        return refused(404, "expired_url");
    };
    let envelope_id = envelope_id.clone();
    let outcome = match &body {
        None => Err((400, "invalid_payload")),
        Some(_) if *uses >= RESPONSE_URL_MAX_USES => Err((404, "used_too_many_times")),
        Some(_) => {
            *uses += 1;
            Ok(())
        }
    };
    state.posts.push(ResponseUrlPost {
        envelope_id,
        body: body.unwrap_or(Value::Null),
        accepted: outcome.is_ok(),
    });
    let n = state.posts.len();
    drop(state);
    urls.count.send_replace(n);
    match outcome {
        Ok(()) => Response::json(200, &json!({"ok": true})),
        Err((status, code)) => refused(status, code),
    }
}

fn refused(status: u16, code: &str) -> Response {
    Response::json(status, &json!({"ok": false, "error": code}))
}

impl Emulator {
    /// Socket Mode: every POST to a `response_url` the emulator handed out, in arrival order,
    /// refused ones included.
    #[must_use]
    pub fn response_url_posts(&self) -> Vec<ResponseUrlPost> {
        lock(&self.shared().response_urls.state).posts.clone()
    }

    /// Socket Mode: waits until at least `n` POSTs reached `response_url`s, up to `timeout`.
    /// Returns them, or `None` on timeout.
    pub async fn wait_for_response_url_posts(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Option<Vec<ResponseUrlPost>> {
        let mut count = self.shared().response_urls.count.subscribe();
        tokio::time::timeout(timeout, count.wait_for(|c| *c >= n))
            .await
            .ok()?
            .ok()?;
        Some(self.response_url_posts())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    fn url_count(emu: &Emulator) -> usize {
        lock(&emu.shared().response_urls.state).urls.len()
    }

    #[tokio::test]
    async fn a_response_url_takes_five_answers_then_refuses() {
        let emu = Emulator::start().await.unwrap();
        let envelope_id = emu.push_envelope("slash_commands", json!({"command": "/deploy"}));
        let id = lock(&emu.shared().response_urls.state)
            .urls
            .keys()
            .next()
            .cloned()
            .expect("a slash command gets a response_url");
        let url = format!("http://{}{PATH}{id}", emu.shared().addr);
        let http = crate::web_api::http_client().unwrap();
        let post = |body: String| {
            let request = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send();
            async move {
                let response = tokio::time::timeout(WAIT, request).await.unwrap().unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (status, body["error"].as_str().unwrap_or("").to_owned())
            }
        };
        let mut answers = Vec::new();
        for i in 0..6 {
            answers.push(post(json!({ "text": i }).to_string()).await);
        }
        let ok = (200, String::new());
        let spent = (404, "used_too_many_times".to_owned());
        assert_eq!(
            answers,
            [ok.clone(), ok.clone(), ok.clone(), ok.clone(), ok, spent]
        );
        assert_eq!(post("not json".into()).await, (400, "invalid_payload".to_owned()));
        let posts = emu.wait_for_response_url_posts(7, WAIT).await.unwrap();
        assert!(posts.iter().all(|p| p.envelope_id == envelope_id));
        let accepted: Vec<bool> = posts.iter().map(|p| p.accepted).collect();
        assert_eq!(accepted, [true, true, true, true, true, false, false]);
        assert_eq!(posts[0].body, json!({"text": 0}));
        let unknown = format!("http://{}{PATH}nope", emu.shared().addr);
        let response = tokio::time::timeout(WAIT, http.post(unknown).json(&json!({})).send())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status().as_u16(), 404);
        assert_eq!(emu.response_url_posts().len(), 7, "unknown ids are not recorded");
    }

    #[tokio::test]
    async fn only_slash_commands_and_block_actions_get_one() {
        let emu = Emulator::start().await.unwrap();
        emu.push_envelope("interactive", json!({"type": "shortcut"}));
        emu.push_envelope("interactive", json!({"type": "view_submission"}));
        assert_eq!(url_count(&emu), 0);
        emu.push_envelope("interactive", json!({"type": "block_actions"}));
        assert_eq!(url_count(&emu), 1);
        let accepts = |kind: &str, kind_of_payload: &str| {
            accepts_response_payload(kind, &json!({ "type": kind_of_payload }))
        };
        assert!(accepts("slash_commands", ""));
        assert!(accepts("interactive", "view_submission") && accepts("interactive", "block_suggestion"));
        assert!(!accepts("interactive", "block_actions") && !accepts("interactive", "shortcut"));
        assert!(!accepts("events_api", ""));
    }
}

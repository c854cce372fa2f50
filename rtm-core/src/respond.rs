//! Answering a Socket Mode envelope: in its ack while the connection holds it, otherwise
//! through the payload's `response_url` (protocol §7.3, §11.8).

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use serde_json::Value;

use crate::{
    Event, RespondError as E, SendError, WebError,
    connection::{AckWith, Answer, socket_mode::ack_frame},
    error::Source,
};

/// How an answer reached Slack ([`SocketModeClient::respond`](crate::SocketModeClient::respond)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answered {
    /// In the envelope's acknowledgement (queued before any other frame).
    InAck,
    /// Posted to the payload's `response_url`, the ack having gone already.
    ResponseUrl,
}

/// Why an answer could not be given
/// ([`SocketModeClient::respond`](crate::SocketModeClient::respond)).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The ack with this payload would reach Slack's 20,480-byte frame cap (§7.6). Nothing was
    /// sent and the ack is still held: answer with something smaller, or it goes empty when
    /// the response budget runs out.
    #[error("answer too large for the ack: {len} bytes, slack accepts at most {max}; the ack is still held")]
    TooLarge {
        /// Size of the ack frame with this payload, in bytes.
        len: usize,
        /// The largest ack frame Slack accepts.
        max: usize,
    },
    /// There is nowhere to put an answer: the event came in no envelope (RTM, or built by
    /// hand), or its ack has gone and its payload has no `response_url`.
    #[error("this event cannot be answered: its ack has gone and it has no response_url")]
    NotAnswerable,
    /// The ack already carried an answer and the payload has no `response_url` for another.
    #[error("this event was already answered in its ack and has no response_url")]
    AlreadyAnswered,
    /// The connection that received the envelope (and holds its ack) is gone: closed or
    /// stopped. Slack will not take an answer for it any more.
    #[error("the connection that received this envelope is gone; its ack cannot be answered")]
    ConnectionGone,
    /// The payload could not be serialised into JSON; nothing was sent.
    #[error("invalid answer payload: {0}; nothing was sent")]
    InvalidPayload(String),
    /// Posting to the `response_url` failed (HTTP status, Slack's error, or transport).
    #[error("answering through the response_url failed: {0}")]
    ResponseUrl(#[source] WebError),
}

/// Where an answer goes.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// It went into the held ack.
    InAck,
    /// The ack has gone: POST `body` to `url`.
    PostTo { url: String, body: Value },
}

/// Puts `payload` into the held ack of `event`'s envelope when the connection that received
/// it still holds it; otherwise says where to post it.
pub(crate) async fn answer(event: &Event, payload: Value) -> Result<Outcome, E> {
    let envelope = event.envelope().ok_or(E::NotAnswerable)?;
    if let Some(route) = envelope.route().filter(|_| envelope.ack_held()) {
        let (with, too_large) = match ack_frame(envelope.id(), Some(&payload)) {
            Ok(ack) => (AckWith::Answer(ack), None),
            Err(SendError::TooLarge { len, max }) => (AckWith::TooLarge, Some(E::TooLarge { len, max })),
            Err(error) => return Err(E::InvalidPayload(error.to_string())),
        };
        match route.answer(envelope.id(), with).await {
            Some(Answer::Sent) => return Ok(Outcome::InAck),
            Some(Answer::StillHeld) => return Err(too_large.unwrap_or(E::NotAnswerable)),
            Some(Answer::NotHeld) => {}
            // The connection stopped: only an ack that went before it did still counts.
            None if envelope.ack_held() => return Err(E::ConnectionGone),
            None => {}
        }
    }
    match response_url(event) {
        Some(url) => Ok(Outcome::PostTo { url, body: payload }),
        None if envelope.answered_in_ack() => Err(E::AlreadyAnswered),
        None => Err(E::NotAnswerable),
    }
}

/// Releases the held ack of `event`'s envelope now, empty; a no-op when none is held.
pub(crate) fn release(event: &Event) {
    let Some(envelope) = event.envelope() else { return };
    let Some(route) = envelope.route().filter(|_| envelope.ack_held()) else {
        return;
    };
    route.release(envelope.id());
}

/// What the answer says as JSON: a bare string becomes `{"text": …}`, as Slack's SDKs do.
pub(crate) fn payload_value<T: serde::Serialize + ?Sized>(payload: &T) -> Result<Value, E> {
    match serde_json::to_value(payload) {
        Ok(Value::String(text)) => Ok(serde_json::json!({ "text": text })),
        Ok(value) => Ok(value),
        Err(error) => Err(E::InvalidPayload(error.to_string())),
    }
}

/// The `response_url` of the envelope `event` is: `payload.response_url` (slash commands,
/// block actions) or the first of `payload.response_urls` (view submissions with a
/// conversation picker).
pub(crate) fn response_url(event: &Event) -> Option<String> {
    #[derive(Deserialize)]
    struct Outer {
        #[serde(default)]
        payload: Option<Inner>,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        response_url: Option<String>,
        #[serde(default)]
        response_urls: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        response_url: Option<String>,
    }
    let payload = event.parse::<Outer>().ok()?.payload?;
    payload
        .response_url
        .or_else(|| {
            payload
                .response_urls
                .into_iter()
                .find_map(|entry| entry.response_url)
        })
        .filter(|url| !url.is_empty())
}

/// What a `response_url` answers when it refuses (Slack's body is not documented; accept
/// `{"ok": false, "error": …}` and plain text alike).
#[derive(Deserialize)]
struct Refusal {
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    error: Option<String>,
}

const METHOD: &str = "response_url";

/// POSTs `body` as JSON to `url`, with no token, bounded by `timeout`. The URL is a
/// capability, so it never appears in the error.
pub(crate) async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &(impl serde::Serialize + ?Sized),
    timeout: Duration,
    check: impl FnOnce(&url::Url) -> Result<(), crate::Error>,
) -> Result<(), WebError> {
    let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    check(&parsed).map_err(|e| invalid(e.to_string()))?;
    let response = http
        .post(parsed)
        .json(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| WebError::Transport {
            method: METHOD.into(),
            reason: if e.is_timeout() {
                "timed out".into()
            } else if e.is_connect() {
                "could not connect".into()
            } else {
                "request failed".into()
            },
            maybe_sent: !e.is_connect(),
            source: Some(Arc::new(e.without_url()) as Source),
        })?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let refusal = serde_json::from_str::<Refusal>(&text).ok();
    let code = refusal
        .as_ref()
        .filter(|r| r.ok == Some(false) || status >= 300)
        .and_then(|r| r.error.clone());
    match (status, code) {
        (429, _) => Err(WebError::RateLimited {
            method: METHOD.into(),
            retry_after: Duration::from_secs(1),
        }),
        (_, Some(code)) => Err(WebError::Slack {
            method: METHOD.into(),
            code,
            needed: None,
            provided: None,
            messages: Vec::new(),
        }),
        (200..=299, None) => Ok(()),
        (status, None) => Err(WebError::Status {
            method: METHOD.into(),
            status,
        }),
    }
}

fn invalid(reason: String) -> WebError {
    WebError::InvalidArguments {
        method: METHOD.into(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_urls_are_found_where_slack_puts_them() {
        let slash = Event::from_json(
            r#"{"type":"slash_commands","payload":{"command":"/x","response_url":"https://hooks.slack.com/commands/1"}}"#,
        )
        .unwrap();
        assert_eq!(
            response_url(&slash).as_deref(),
            Some("https://hooks.slack.com/commands/1")
        );
        let view = Event::from_json(
            r#"{"type":"interactive","payload":{"type":"view_submission","response_urls":[{"block_id":"b","response_url":"https://hooks.slack.com/app/2"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            response_url(&view).as_deref(),
            Some("https://hooks.slack.com/app/2")
        );
        let shortcut =
            Event::from_json(r#"{"type":"interactive","payload":{"type":"shortcut","response_urls":[]}}"#)
                .unwrap();
        assert_eq!(response_url(&shortcut), None);
        let message = Event::from_json(r#"{"type":"message","text":"hi"}"#).unwrap();
        assert_eq!(response_url(&message), None);
    }

    #[test]
    fn a_bare_string_answer_becomes_a_text_message() {
        assert_eq!(
            payload_value("on it").unwrap(),
            serde_json::json!({"text": "on it"})
        );
        let options = serde_json::json!({"options": []});
        assert_eq!(payload_value(&options).unwrap(), options);
    }

    #[test]
    fn error_messages_are_pinned() {
        let too_large = RespondError::TooLarge {
            len: 20_480,
            max: 20_479,
        };
        assert_eq!(
            too_large.to_string(),
            "answer too large for the ack: 20480 bytes, slack accepts at most 20479; the ack is still held"
        );
        assert_eq!(
            RespondError::ConnectionGone.to_string(),
            "the connection that received this envelope is gone; its ack cannot be answered"
        );
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<RespondError>();
    }
}

//! Socket Mode's side of the seam: `apps.connections.open` for the URL, and what Socket Mode
//! frames mean (protocol §7).
//!
//! Every envelope is acknowledged by the connection task, never by a reader or a handler:
//! at once as it is classified ([`Inbound::Ack`]), or, for an envelope that takes a response
//! payload, when the application answers or its response budget runs out ([`Inbound::Held`]).
//! `events_api` envelopes are delivered as their inner event (`payload.event`), once per
//! `payload.event_id`; `slash_commands`, `interactive` and envelope kinds this client does not
//! know are delivered as the whole envelope, whose `type` is the envelope's kind. Each carries
//! its [`crate::Envelope`].

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{FutureExt, future::BoxFuture};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::{debug, info, warn};

use super::protocol::{Inbound, Opened, Protocol};
use crate::{
    ClientConfig, ConnectionInfo, DisconnectCause, Envelope, EnvelopeKind, Error, Event, SendError, Token,
    event::{Frame, classify},
    web_api,
};

/// Slack closes a socket on a client frame of this many bytes or more (§7.6), so an ack
/// this large is refused locally.
pub(crate) const MAX_ACK_BYTES: usize = 20_480;

/// How long an `event_id` is remembered: longer than Slack's last retry (5 minutes).
pub(crate) const DEDUPE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// At most this many ids are remembered; beyond it the oldest are forgotten first, so memory
/// stays bounded under any event rate.
pub(crate) const DEDUPE_CAPACITY: usize = 100_000;

/// Slack's Socket Mode protocol.
pub(crate) struct SocketMode {
    config: ClientConfig,
    app_token: Token,
    /// Who the bot token belongs to (from `auth.test` at connect time).
    info: ConnectionInfo,
    seen: Mutex<Dedupe>,
}

impl SocketMode {
    pub(crate) fn new(config: ClientConfig, app_token: Token, info: ConnectionInfo) -> Self {
        SocketMode {
            config,
            app_token,
            info,
            seen: Mutex::new(Dedupe::new(DEDUPE_WINDOW, DEDUPE_CAPACITY)),
        }
    }

    /// Whether an envelope or event is new. With manual acks every delivery is new: the
    /// application acknowledges only what it stored, and deduplicates there (a repeat dropped
    /// here, with its first copy never stored, would be lost).
    fn first_time(&self, key: &str) -> bool {
        if self.config.manual_acks {
            return true;
        }
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first_time(key, Instant::now())
    }
}

/// The fields of a Socket Mode frame this client reads. `payload` stays raw until needed.
#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    envelope_id: Option<String>,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
    #[serde(default)]
    retry_attempt: u32,
    #[serde(default)]
    retry_reason: String,
    #[serde(default)]
    accepts_response_payload: bool,
    /// `disconnect`'s reason.
    #[serde(default)]
    reason: Option<String>,
    /// `hello`'s count of the app's registered connections (ghosts included, §7.6).
    #[serde(default)]
    num_connections: Option<u32>,
    #[serde(default)]
    debug_info: Option<DebugInfo>,
}

#[derive(Deserialize)]
struct DebugInfo {
    #[serde(default)]
    approximate_connection_time: Option<u64>,
    #[serde(default)]
    host: Option<String>,
}

/// An `events_api` payload: the Events API callback.
#[derive(Deserialize)]
struct Callback {
    #[serde(default)]
    event_id: Option<String>,
    event: Box<RawValue>,
}

impl Protocol for SocketMode {
    fn open<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<Opened, Error>> {
        async move {
            let url = web_api::apps_connections_open(http, &self.config, &self.app_token).await?;
            Ok(Opened {
                url,
                info: self.info.clone(),
            })
        }
        .boxed()
    }

    fn classify(&self, text: Utf8Bytes) -> Inbound {
        let mut envelope: Raw = match serde_json::from_str(&text) {
            Ok(envelope) => envelope,
            Err(_) => {
                // Still acknowledge what can be, or Slack redelivers it forever (§7.6).
                return match scan_envelope_id(&text).map(empty_ack) {
                    Some(Ok(ack)) => {
                        warn!("acknowledged an envelope that is not valid JSON; skipping it");
                        Inbound::Ack { ack, event: None }
                    }
                    _ => Inbound::Malformed("not a socket mode frame"),
                };
            }
        };
        if let Some(envelope_id) = envelope.envelope_id.take() {
            let ack = match empty_ack(&envelope_id) {
                Ok(ack) => ack,
                Err(error) => {
                    warn!(%error, "cannot acknowledge an envelope");
                    return Inbound::Malformed("envelope id too large to acknowledge");
                }
            };
            let manual = self.config.manual_acks;
            let hold = manual || (envelope.accepts_response_payload && envelope.kind != "events_api");
            return match self.envelope_event(&envelope, envelope_id, text) {
                Some(event) if hold => Inbound::Held {
                    ack,
                    event,
                    ack_unanswered: !manual,
                },
                event => Inbound::Ack { ack, event },
            };
        }
        match envelope.kind.as_str() {
            "hello" => {
                let debug_info = envelope.debug_info.as_ref();
                info!(
                    num_connections = envelope.num_connections,
                    approximate_connection_time = debug_info.and_then(|d| d.approximate_connection_time),
                    host = debug_info.and_then(|d| d.host.as_deref()),
                    "socket mode hello"
                );
                as_event(text).map_or(Inbound::Malformed("unreadable hello"), Inbound::Hello)
            }
            "disconnect" => {
                let reason = envelope.reason.as_deref().unwrap_or("");
                info!(reason, "socket mode disconnect");
                match reason {
                    "link_disabled" => Inbound::Fatal(Error::LinkDisabled),
                    "too_many_websockets" => {
                        Inbound::Ended(DisconnectCause::TooManyWebsockets, as_event(text))
                    }
                    // `warning`, `refresh_requested`, and any reason this client does not
                    // know yet: open the next socket before this one goes.
                    _ => match as_event(text) {
                        Some(event) => Inbound::Retiring(event),
                        None => Inbound::Malformed("unreadable disconnect"),
                    },
                }
            }
            _ => match as_event(text) {
                Some(event) => Inbound::Event(event),
                None => Inbound::Malformed("a frame without type or envelope_id"),
            },
        }
    }

    /// A websocket ping: Socket Mode has no JSON ping. Its pong (or any frame) proves the
    /// peer alive.
    fn ping(&self, id: u64) -> Message {
        Message::Ping(id.to_string().into_bytes().into())
    }
}

impl SocketMode {
    /// What an envelope hands to the application: `None` for a duplicate or an unreadable
    /// payload (it is still acknowledged).
    fn envelope_event(&self, envelope: &Raw, envelope_id: String, text: Utf8Bytes) -> Option<Event> {
        let metadata = |id: String| {
            Envelope::new(
                id.into_boxed_str(),
                EnvelopeKind::from_type(&envelope.kind),
                envelope.retry_attempt,
                &envelope.retry_reason,
                envelope.accepts_response_payload,
            )
        };
        if envelope.kind != "events_api" {
            if !self.first_time(&format!("envelope:{envelope_id}")) {
                debug!(kind = %envelope.kind, "duplicate envelope; acknowledged, not delivered");
                return None;
            }
            return as_event(text).map(|event| event.with_envelope(metadata(envelope_id)));
        }
        let callback = envelope
            .payload
            .as_ref()
            .and_then(|payload| serde_json::from_str::<Callback>(payload.get()).ok());
        let Some(callback) = callback else {
            warn!(
                envelope_id = %envelope_id,
                "events_api envelope without a readable payload.event; acknowledged"
            );
            return None;
        };
        let key = match &callback.event_id {
            Some(event_id) => format!("event:{event_id}"),
            None => format!("envelope:{envelope_id}"),
        };
        if !self.first_time(&key) {
            debug!(
                event_id = callback.event_id.as_deref(),
                retry_attempt = envelope.retry_attempt,
                retry_reason = %envelope.retry_reason,
                "duplicate event; acknowledged, not delivered"
            );
            return None;
        }
        if envelope.retry_attempt > 0 {
            debug!(
                retry_attempt = envelope.retry_attempt,
                retry_reason = %envelope.retry_reason,
                "a retried event never delivered before; delivering it"
            );
        }
        match Event::from_json(callback.event.get()) {
            Ok(event) => {
                let mut envelope = metadata(envelope_id);
                envelope.set_event_id(callback.event_id);
                Some(event.with_envelope(envelope))
            }
            Err(_) => {
                warn!(envelope_id = %envelope_id, "events_api payload.event has no type; acknowledged");
                None
            }
        }
    }
}

fn as_event(text: Utf8Bytes) -> Option<Event> {
    match classify(text) {
        Frame::Event(event) => Some(event),
        _ => None,
    }
}

/// The empty acknowledgement of `envelope_id`.
pub(crate) fn empty_ack(envelope_id: &str) -> Result<Message, SendError> {
    ack_frame::<()>(envelope_id, None)
}

/// The acknowledgement of `envelope_id`, with a response payload when given; refused
/// (nothing to send) when it would reach Slack's 20,480-byte frame cap.
pub(crate) fn ack_frame<T: serde::Serialize + ?Sized>(
    envelope_id: &str,
    payload: Option<&T>,
) -> Result<Message, SendError> {
    #[derive(serde::Serialize)]
    struct Ack<'a, T: ?Sized> {
        envelope_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<&'a T>,
    }
    let text = serde_json::to_string(&Ack { envelope_id, payload })
        .map_err(|e| SendError::InvalidFrame(e.to_string()))?;
    if text.len() >= MAX_ACK_BYTES {
        return Err(SendError::TooLarge {
            len: text.len(),
            max: MAX_ACK_BYTES - 1,
        });
    }
    Ok(Message::text(text))
}

/// `envelope_id` read from a frame that is not valid JSON, when it is a plain string there.
fn scan_envelope_id(text: &str) -> Option<&str> {
    const KEY: &str = "\"envelope_id\"";
    let rest = &text[text.find(KEY)? + KEY.len()..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let id = &rest[..rest.find('"')?];
    let plain = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    plain.then_some(id)
}

/// Ids seen within a time window, with a cap on how many are kept.
pub(crate) struct Dedupe {
    window: Duration,
    capacity: usize,
    seen: HashSet<Arc<str>>,
    order: VecDeque<(Instant, Arc<str>)>,
}

impl Dedupe {
    pub(crate) fn new(window: Duration, capacity: usize) -> Self {
        Dedupe {
            window,
            capacity: capacity.max(1),
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `key` was not seen within the window (and remembers it).
    pub(crate) fn first_time(&mut self, key: &str, now: Instant) -> bool {
        while let Some((at, _)) = self.order.front()
            && (now.saturating_duration_since(*at) > self.window || self.order.len() >= self.capacity)
        {
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains(key) {
            return false;
        }
        let key: Arc<str> = Arc::from(key);
        self.seen.insert(key.clone());
        self.order.push_back((now, key));
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protocol() -> SocketMode {
        let config = ClientConfig::builder("xoxb-test").build().unwrap();
        let info = serde_json::from_str(r#"{"self":{"id":"U1","name":"bot"},"team":{"id":"T1"}}"#).unwrap();
        SocketMode::new(config, Token::from("xapp-test"), info)
    }

    fn events_api(envelope_id: &str, event_id: &str, retry_attempt: u32) -> Utf8Bytes {
        Utf8Bytes::from(
            serde_json::json!({
                "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": false,
                "retry_attempt": retry_attempt, "retry_reason": if retry_attempt > 0 { "timeout" } else { "" },
                "payload": {"type": "event_callback", "event_id": event_id,
                            "event": {"type": "message", "text": "hi", "channel": "C1", "user": "U2"}}
            })
            .to_string(),
        )
    }

    fn ack_of(inbound: &Inbound) -> Option<String> {
        match inbound {
            Inbound::Ack {
                ack: Message::Text(text),
                ..
            } => Some(text.to_string()),
            _ => None,
        }
    }

    #[test]
    fn an_event_envelope_is_acked_and_its_inner_event_delivered_once() {
        let p = protocol();
        let first = p.classify(events_api("e1", "Ev1", 0));
        assert_eq!(ack_of(&first).as_deref(), Some(r#"{"envelope_id":"e1"}"#));
        let Inbound::Ack {
            event: Some(event), ..
        } = first
        else {
            panic!("delivered")
        };
        assert_eq!(event.kind(), "message");
        let envelope = event.envelope().expect("the inner event carries its envelope");
        assert_eq!(
            (
                envelope.id(),
                envelope.kind(),
                envelope.retry_attempt(),
                envelope.retry_reason()
            ),
            ("e1", crate::EnvelopeKind::EventsApi, 0, None)
        );
        assert!(!envelope.accepts_response_payload());
        // A redelivery (new envelope, retry 1) and the same envelope again: acked, not delivered.
        for again in [events_api("e2", "Ev1", 1), events_api("e1", "Ev1", 0)] {
            let inbound = p.classify(again);
            assert!(ack_of(&inbound).is_some());
            assert!(matches!(inbound, Inbound::Ack { event: None, .. }));
        }
        // A retry of an event never delivered is delivered, with its retry count.
        let Inbound::Ack {
            event: Some(retried), ..
        } = p.classify(events_api("e3", "Ev2", 2))
        else {
            panic!("delivered")
        };
        let envelope = retried.envelope().expect("envelope");
        assert_eq!(
            (envelope.retry_attempt(), envelope.retry_reason()),
            (2, Some("timeout"))
        );
    }

    #[test]
    fn unparseable_envelopes_are_still_acked() {
        let p = protocol();
        let bad_payload = r#"{"envelope_id":"e9","type":"events_api","payload":{"no_event":true}}"#;
        let inbound = p.classify(Utf8Bytes::from_static(bad_payload));
        assert_eq!(ack_of(&inbound).as_deref(), Some(r#"{"envelope_id":"e9"}"#));
        assert!(matches!(inbound, Inbound::Ack { event: None, .. }));
        let truncated = r#"{"envelope_id": "e10", "type":"events_api","payload":{"event":{"#;
        let inbound = p.classify(Utf8Bytes::from_static(truncated));
        assert_eq!(ack_of(&inbound).as_deref(), Some(r#"{"envelope_id":"e10"}"#));
        assert!(matches!(
            p.classify(Utf8Bytes::from_static("not json")),
            Inbound::Malformed(_)
        ));
    }

    #[test]
    fn other_envelopes_are_delivered_whole_and_control_frames_classified() {
        let p = protocol();
        // An envelope that takes an answer: delivered, its empty ack held.
        let slash = r#"{"envelope_id":"s1","type":"slash_commands","accepts_response_payload":true,"payload":{"command":"/x"}}"#;
        let Inbound::Held { ack, event, .. } = p.classify(Utf8Bytes::from_static(slash)) else {
            panic!()
        };
        assert_eq!(ack, Message::text(r#"{"envelope_id":"s1"}"#));
        assert_eq!(event.kind(), "slash_commands");
        let envelope = event.envelope().expect("envelope metadata");
        assert_eq!(
            (
                envelope.id(),
                envelope.kind(),
                envelope.accepts_response_payload()
            ),
            ("s1", crate::EnvelopeKind::SlashCommands, true)
        );
        // One that does not: acked on receipt, as before.
        let shortcut = r#"{"envelope_id":"i1","type":"interactive","accepts_response_payload":false,"payload":{"type":"shortcut"}}"#;
        let inbound = p.classify(Utf8Bytes::from_static(shortcut));
        assert_eq!(ack_of(&inbound).as_deref(), Some(r#"{"envelope_id":"i1"}"#));
        let Inbound::Ack {
            event: Some(event), ..
        } = inbound
        else {
            panic!()
        };
        assert_eq!(
            event.envelope().map(crate::Envelope::kind),
            Some(crate::EnvelopeKind::Interactive)
        );
        let kind = |json: &'static str| match p.classify(Utf8Bytes::from_static(json)) {
            Inbound::Hello(_) => "hello",
            Inbound::Retiring(_) => "retiring",
            Inbound::Ended(DisconnectCause::TooManyWebsockets, _) => "over cap",
            Inbound::Fatal(Error::LinkDisabled) => "link disabled",
            _ => "other",
        };
        assert_eq!(
            kind(
                r#"{"type":"hello","num_connections":1,"debug_info":{"approximate_connection_time":18060}}"#
            ),
            "hello"
        );
        assert_eq!(kind(r#"{"type":"disconnect","reason":"warning"}"#), "retiring");
        assert_eq!(
            kind(r#"{"type":"disconnect","reason":"refresh_requested"}"#),
            "retiring"
        );
        assert_eq!(
            kind(r#"{"type":"disconnect","reason":"too_many_websockets"}"#),
            "over cap"
        );
        assert_eq!(
            kind(r#"{"type":"disconnect","reason":"link_disabled"}"#),
            "link disabled"
        );
    }

    #[test]
    fn an_ack_at_the_frame_cap_is_refused_locally() {
        let small = ack_frame("e1", Some(&serde_json::json!({"text": "ok"}))).unwrap();
        assert_eq!(
            small,
            Message::text(r#"{"envelope_id":"e1","payload":{"text":"ok"}}"#)
        );
        let overhead = r#"{"envelope_id":"e1","payload":{"text":""}}"#.len();
        let fits = "x".repeat(MAX_ACK_BYTES - 1 - overhead);
        assert!(ack_frame("e1", Some(&serde_json::json!({ "text": fits }))).is_ok());
        let too_big = "x".repeat(MAX_ACK_BYTES - overhead);
        let error = ack_frame("e1", Some(&serde_json::json!({ "text": too_big }))).unwrap_err();
        assert!(
            matches!(error, SendError::TooLarge { len: MAX_ACK_BYTES, max } if max == MAX_ACK_BYTES - 1),
            "{error}"
        );
    }

    #[test]
    fn dedupe_forgets_after_the_window_and_stays_bounded() {
        let t0 = Instant::now();
        let mut seen = Dedupe::new(DEDUPE_WINDOW, 3);
        assert!(seen.first_time("a", t0));
        assert!(!seen.first_time("a", t0 + Duration::from_secs(5 * 60 + 1)));
        assert!(seen.first_time("a", t0 + DEDUPE_WINDOW + Duration::from_secs(1)));
        for key in ["b", "c", "d", "e"] {
            seen.first_time(key, t0 + DEDUPE_WINDOW + Duration::from_secs(2));
        }
        assert!(seen.len() <= 3);
    }
}

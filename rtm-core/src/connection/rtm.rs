//! RTM's side of the seam: `rtm.connect` for the URL, and what RTM frames mean.

use futures::{FutureExt, future::BoxFuture};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::warn;

use super::protocol::{Inbound, Opened, Protocol};
use crate::{
    ClientConfig, DisconnectCause, Error, Event,
    event::{Frame, classify},
    web_api,
};

/// Slack's Real Time Messaging protocol.
pub(crate) struct Rtm {
    config: ClientConfig,
}

impl Rtm {
    pub(crate) fn new(config: ClientConfig) -> Self {
        Rtm { config }
    }
}

impl Protocol for Rtm {
    fn open<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<Opened, Error>> {
        async move {
            let granted = web_api::rtm_connect(http, &self.config).await?;
            Ok(Opened {
                url: granted.url,
                info: granted.info,
            })
        }
        .boxed()
    }

    fn classify(&self, text: Utf8Bytes) -> Inbound {
        match classify(text) {
            Frame::Event(event) => match event.kind() {
                "hello" => Inbound::Hello(event),
                "goodbye" => Inbound::Retiring(event),
                "team_migration_started" => Inbound::Ended(DisconnectCause::TeamMigration, Some(event)),
                "error" => match fatal_error_event(&event) {
                    Some(cause) => Inbound::Ended(cause, Some(event)),
                    None => Inbound::Event(event),
                },
                _ => Inbound::Event(event),
            },
            Frame::Reply(reply) => Inbound::Reply(reply),
            Frame::Pong(reply) => Inbound::Pong(reply),
            Frame::Malformed(reason) => Inbound::Malformed(reason),
        }
    }

    /// `{"id":N,"type":"ping"}`, answered with `{"type":"pong","reply_to":N}`. An RTM ping, not
    /// a websocket ping: a server whose websocket library answers protocol pings by itself can
    /// stall at the RTM level and still pong; only an RTM `pong` proves RTM alive.
    fn ping(&self, id: u64) -> Message {
        Message::text(format!(r#"{{"id":{id},"type":"ping"}}"#))
    }
}

/// Code 1 means the socket URL expired: the connection is useless. Other codes are handed to
/// the application and the connection is kept (Slack closes it if it must).
fn fatal_error_event(event: &Event) -> Option<DisconnectCause> {
    #[derive(serde::Deserialize)]
    struct ErrorEvent {
        #[serde(default)]
        error: Option<Detail>,
    }
    #[derive(serde::Deserialize)]
    struct Detail {
        #[serde(default)]
        code: i64,
        #[serde(default)]
        msg: String,
    }
    match event.parse::<ErrorEvent>().ok().and_then(|e| e.error) {
        Some(Detail { code: 1, msg }) => Some(DisconnectCause::ErrorEvent { code: 1, msg }),
        Some(Detail { code, msg }) => {
            warn!(code, msg, "slack sent an error event");
            None
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtm() -> Rtm {
        Rtm::new(ClientConfig::builder("xoxb-test").build().unwrap())
    }

    #[test]
    fn classifies_control_events() {
        let kind = |json: &'static str| match rtm().classify(Utf8Bytes::from_static(json)) {
            Inbound::Hello(_) => "hello",
            Inbound::Event(_) => "event",
            Inbound::Reply(_) => "reply",
            Inbound::Pong(_) => "pong",
            Inbound::Retiring(_) => "retiring",
            Inbound::Ended(..) => "ended",
            Inbound::Ack { .. } | Inbound::Held { .. } => "ack",
            Inbound::Fatal(_) => "fatal",
            Inbound::Malformed(_) => "malformed",
        };
        assert_eq!(kind(r#"{"type":"hello"}"#), "hello");
        assert_eq!(kind(r#"{"type":"message","text":"hi"}"#), "event");
        assert_eq!(kind(r#"{"ok":true,"reply_to":1}"#), "reply");
        assert_eq!(kind(r#"{"type":"pong","reply_to":1}"#), "pong");
        assert_eq!(kind(r#"{"type":"goodbye"}"#), "retiring");
        assert_eq!(kind(r#"{"type":"team_migration_started"}"#), "ended");
        assert_eq!(
            kind(r#"{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}"#),
            "ended"
        );
        assert_eq!(
            kind(r#"{"type":"error","error":{"code":2,"msg":"other"}}"#),
            "event"
        );
        assert_eq!(kind("not json"), "malformed");
    }
}

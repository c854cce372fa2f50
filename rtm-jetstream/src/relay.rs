//! How a worker's handlers answer: over Socket Mode through the Web API from the worker
//! itself; over RTM through the gateway that holds the workspace's socket (NATS
//! request/reply), so `ctx.reply(..).await` resolves with Slack's reply as in one process.

use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use rtm_core::{ConnectionInfo, Outbound, Reply, ReplyFuture, RtmClient, SendError, WebClient};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::{JetStreamConfig, SELF_HEADER, TEAM_HEADER, TRANSPORT_HEADER};

/// How long a worker waits for the gateway to relay a message and return Slack's reply.
const RELAY_TIMEOUT: Duration = Duration::from_secs(15);

/// A message a worker asks a gateway to send on its RTM socket.
#[derive(Serialize, Deserialize)]
struct RelayRequest {
    channel: String,
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thread_ts: Option<String>,
}

/// The gateway's answer: Slack's reply, or why it failed.
#[derive(Serialize, Deserialize)]
struct RelayReply {
    ok: bool,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    error: Option<String>,
    /// Slack's numeric code when Slack refused the message.
    #[serde(default)]
    code: Option<i64>,
    /// What kind of failure (`slack`, `timeout`, `not_sent`, `lost`, `closed`, `invalid`).
    #[serde(default)]
    kind: Option<String>,
}

impl RelayReply {
    fn failed(error: &SendError) -> RelayReply {
        let (kind, code) = match error {
            SendError::Slack { code, .. } => ("slack", Some(*code)),
            SendError::Timeout(_) => ("timeout", None),
            SendError::NotSent(_) => ("not_sent", None),
            SendError::ConnectionLost => ("lost", None),
            SendError::Closed => ("closed", None),
            _ => ("invalid", None),
        };
        let msg = match error {
            SendError::Slack { msg, .. } => msg.clone(),
            other => other.to_string(),
        };
        RelayReply {
            ok: false,
            ts: None,
            text: None,
            error: Some(msg),
            code,
            kind: Some(kind.to_owned()),
        }
    }

    /// The worker's side of [`failed`](Self::failed).
    fn into_error(self) -> SendError {
        let msg = self.error.unwrap_or_default();
        match self.kind.as_deref() {
            Some("slack") => SendError::Slack {
                code: self.code.unwrap_or(0),
                msg,
            },
            Some("timeout") => SendError::Timeout(RELAY_TIMEOUT),
            Some("not_sent") => SendError::NotSent(RELAY_TIMEOUT),
            Some("closed") => SendError::Closed,
            Some("lost") => SendError::ConnectionLost,
            _ => SendError::InvalidFrame(msg),
        }
    }
}

/// The subject a gateway listens on for a workspace's outgoing RTM messages.
pub(crate) fn relay_subject(config: &JetStreamConfig, team: &str) -> String {
    format!("{}-relay.{team}", config.subject_prefix)
}

/// Whose message it is: workspace, bot user, and whether it came over RTM.
type Sender = (String, String, bool);

/// Picks the [`Outbound`] for each stored event, from its headers.
pub(crate) struct Outbounds {
    nats: async_nats::Client,
    web: Option<WebClient>,
    config: Arc<JetStreamConfig>,
    known: Mutex<HashMap<Sender, Arc<dyn Outbound>>>,
}

impl Outbounds {
    pub(crate) fn new(
        nats: async_nats::Client,
        web: Option<WebClient>,
        config: Arc<JetStreamConfig>,
    ) -> Outbounds {
        Outbounds {
            nats,
            web,
            config,
            known: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn for_headers(&self, headers: Option<&HeaderMap>) -> Arc<dyn Outbound> {
        let header = |name: &str| {
            headers
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        let (team, me) = (header(TEAM_HEADER), header(SELF_HEADER));
        let rtm = header(TRANSPORT_HEADER) == "rtm";
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let key = (team, me, rtm);
        if let Some(outbound) = known.get(&key) {
            return Arc::clone(outbound);
        }
        let info: Arc<ConnectionInfo> = Arc::new(
            serde_json::from_value(serde_json::json!({
                "self": {"id": key.1},
                "team": {"id": key.0},
            }))
            .expect("a connection info from two strings"),
        );
        let outbound: Arc<dyn Outbound> = if rtm {
            Arc::new(ViaGateway {
                subject: relay_subject(&self.config, &key.0),
                nats: self.nats.clone(),
                web: self.web.clone(),
                info,
            })
        } else {
            Arc::new(ViaWebApi {
                web: self.web.clone(),
                info,
            })
        };
        known.insert(key, Arc::clone(&outbound));
        outbound
    }
}

/// Socket Mode: `chat.postMessage` with the worker's bot token.
struct ViaWebApi {
    web: Option<WebClient>,
    info: Arc<ConnectionInfo>,
}

impl Outbound for ViaWebApi {
    fn info(&self) -> Arc<ConnectionInfo> {
        Arc::clone(&self.info)
    }

    fn post(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture {
        let Some(web) = &self.web else {
            warn!("a handler posted, but the worker has no Web API client (Worker::web)");
            return ReplyFuture::spawn(async { Err(SendError::Closed) });
        };
        web.post_reply(channel, text, thread_ts)
    }

    fn web(&self) -> Option<WebClient> {
        self.web.clone()
    }
}

/// RTM: a request to the gateway holding the workspace's socket.
struct ViaGateway {
    subject: String,
    nats: async_nats::Client,
    web: Option<WebClient>,
    info: Arc<ConnectionInfo>,
}

impl Outbound for ViaGateway {
    fn info(&self) -> Arc<ConnectionInfo> {
        Arc::clone(&self.info)
    }

    fn post(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture {
        let request = RelayRequest {
            channel: channel.to_owned(),
            text: text.to_owned(),
            thread_ts: thread_ts.map(str::to_owned),
        };
        let (nats, subject) = (self.nats.clone(), self.subject.clone());
        ReplyFuture::spawn(async move {
            let body = serde_json::to_vec(&request).map_err(|e| SendError::InvalidFrame(e.to_string()))?;
            let answer = tokio::time::timeout(RELAY_TIMEOUT, nats.request(subject, Bytes::from(body)))
                .await
                .map_err(|_| SendError::Timeout(RELAY_TIMEOUT))?
                // No gateway holds the workspace right now: nothing was sent.
                .map_err(|_| SendError::NotSent(RELAY_TIMEOUT))?;
            let reply: RelayReply = serde_json::from_slice(&answer.payload)
                .map_err(|e| SendError::MalformedReply(e.to_string()))?;
            if reply.ok {
                Ok(Reply::new(reply.ts, reply.text))
            } else {
                Err(reply.into_error())
            }
        })
    }

    fn web(&self) -> Option<WebClient> {
        self.web.clone()
    }
}

/// The gateway's side: sends what workers ask on `client`'s socket and answers with Slack's
/// reply, until the subscription ends.
pub(crate) async fn serve_relay(nats: async_nats::Client, subject: String, client: RtmClient) {
    let mut requests = match nats.queue_subscribe(subject.clone(), "gateways".into()).await {
        Ok(requests) => requests,
        Err(error) => {
            warn!(%subject, %error, "cannot relay workers' messages");
            return;
        }
    };
    debug!(%subject, "relaying workers' messages");
    while let Some(request) = requests.next().await {
        let Some(reply_to) = request.reply.clone() else {
            continue;
        };
        let (nats, client) = (nats.clone(), client.clone());
        tokio::spawn(async move {
            let answer = match serde_json::from_slice::<RelayRequest>(&request.payload) {
                Err(error) => {
                    RelayReply::failed(&SendError::InvalidFrame(format!("bad relay request: {error}")))
                }
                Ok(message) => {
                    let sent = match &message.thread_ts {
                        None => client.send_message(&message.channel, &message.text),
                        Some(ts) => client.send(&serde_json::json!({
                            "type": "message", "channel": message.channel, "text": message.text, "thread_ts": ts,
                        })),
                    };
                    match sent.await {
                        Ok(reply) => RelayReply {
                            ok: true,
                            ts: reply.ts,
                            text: reply.text,
                            error: None,
                            code: None,
                            kind: None,
                        },
                        Err(error) => RelayReply::failed(&error),
                    }
                }
            };
            let body = serde_json::to_vec(&answer).unwrap_or_default();
            let _ = nats.publish(reply_to, Bytes::from(body)).await;
        });
    }
}

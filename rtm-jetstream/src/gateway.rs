//! [`Gateway`]: holds Slack connections and stores every event in JetStream.

use std::{sync::Arc, time::Duration};

use async_nats::{
    HeaderMap,
    jetstream::{self, context::PublishAckFuture, message::PublishMessage},
};
use bytes::Bytes;
use rtm_core::{Batch, ConnectionInfo, Event, RtmClient, SocketModeClient};
use tracing::{debug, warn};

use crate::{
    JetStreamConfig, JetStreamError,
    key::key,
    relay::{relay_subject, serve_relay},
    topology,
};

/// Header naming the transport an event came from (`socket_mode` or `rtm`).
pub const TRANSPORT_HEADER: &str = "Rtm-Transport";
/// Header with the workspace (team) id.
pub const TEAM_HEADER: &str = "Rtm-Team";
/// Header with the bot's own user id in that workspace (so workers skip its own messages).
pub const SELF_HEADER: &str = "Rtm-Self";

/// Events published (pipelined) before their confirmations are awaited. async-nats holds one
/// permit per unconfirmed publish (5,000 by default) and waits for a free one, so a batch
/// published whole before awaiting any confirmation would wait on itself forever once it
/// is larger than that.
const PUBLISH_WINDOW: usize = 1024;

/// Frames about the connection itself, not events a worker handles.
const CONNECTION_FRAMES: [&str; 4] = ["hello", "goodbye", "disconnect", "reconnect_url"];

/// Keeps Slack connections and publishes every event they deliver to the events stream, with
/// a message id JetStream deduplicates on (Socket Mode's `event_id`, or a key built from the
/// event for RTM), so Slack's retries and the same event reaching two gateways are stored
/// once.
///
/// A gateway runs no handlers; [`Worker`](crate::Worker)s do.
#[derive(Debug, Clone)]
pub struct Gateway {
    nats: async_nats::Client,
    pub(crate) js: jetstream::Context,
    config: Arc<JetStreamConfig>,
}

impl Gateway {
    /// Connects to NATS at `url` and creates the streams when missing.
    ///
    /// # Errors
    /// [`JetStreamError::Connect`] or [`JetStreamError::Setup`].
    pub async fn connect(url: &str, config: JetStreamConfig) -> Result<Gateway, JetStreamError> {
        let nats = async_nats::connect(url)
            .await
            .map_err(|e| JetStreamError::Connect(e.to_string()))?;
        let js = jetstream::new(nats.clone());
        topology::ensure_streams(&js, &config).await?;
        Ok(Gateway {
            nats,
            js,
            config: Arc::new(config),
        })
    }

    /// Publishes everything `client` delivers until it is closed. Each batch is stored as a
    /// whole (publishes pipelined, then every storage confirmation awaited) before the next
    /// is read, and each envelope is acknowledged to Slack once its event is stored.
    ///
    /// Connect `client` with
    /// [`manual_acks(true)`](rtm_core::ClientConfigBuilder::manual_acks): then an event is
    /// acknowledged only after JetStream stored it, and one this gateway could not store in
    /// time (it died, JetStream is down) is redelivered by Slack, to this or another gateway.
    /// Without it the client acknowledges on receipt, and an event received by a gateway that
    /// dies before storing it is lost.
    ///
    /// # Errors
    /// The client's fatal error.
    pub async fn run_socket_mode(&self, client: &SocketModeClient) -> Result<(), JetStreamError> {
        while let Some(batch) = client.read().await? {
            self.store(&client.info(), "socket_mode", batch, |event| {
                client.ack(&event);
            })
            .await;
        }
        Ok(())
    }

    /// As [`run_socket_mode`](Self::run_socket_mode), for an RTM connection. RTM never
    /// redelivers, so a failed store is retried (reading pauses meanwhile, and the client's
    /// bounded buffer pushes back) rather than given up.
    ///
    /// # Errors
    /// The client's fatal error.
    ///
    /// While it runs, the gateway also sends the messages workers' handlers post to this
    /// workspace (`ctx.reply(..)`) on the client's socket and returns Slack's reply to them.
    pub async fn run_rtm(&self, client: &RtmClient) -> Result<(), JetStreamError> {
        let subject = relay_subject(&self.config, &client.info().team.id);
        let relay = tokio::spawn(serve_relay(self.nats.clone(), subject, client.clone()));
        let _stop_relay = AbortOnDrop(relay);
        while let Some(batch) = client.read().await? {
            self.store(&client.info(), "rtm", batch, drop).await;
        }
        Ok(())
    }

    /// Stores `batch`, a window of events at a time (publishes pipelined, then every
    /// confirmation awaited), and hands each stored event to `stored`. A publish that fails is
    /// retried with backoff.
    async fn store(
        &self,
        info: &ConnectionInfo,
        transport: &'static str,
        batch: Batch,
        mut stored: impl FnMut(Event),
    ) {
        let mut window = Vec::with_capacity(PUBLISH_WINDOW.min(batch.len()));
        for event in batch {
            if CONNECTION_FRAMES.contains(&event.kind()) {
                continue;
            }
            window.push(event);
            if window.len() == PUBLISH_WINDOW {
                self.store_window(info, transport, &window).await;
                window.drain(..).for_each(&mut stored);
            }
        }
        self.store_window(info, transport, &window).await;
        window.into_iter().for_each(stored);
    }

    /// Publishes `events` pipelined, then awaits every confirmation.
    async fn store_window(&self, info: &ConnectionInfo, transport: &'static str, events: &[Event]) {
        let mut pending: Vec<(PublishMessage, String, Option<PublishAckFuture>)> =
            Vec::with_capacity(events.len());
        for event in events {
            let (subject, message) = self.message(info, transport, event);
            let ack = self.js.send_publish(subject.clone(), message.clone()).await.ok();
            pending.push((message, subject, ack));
        }
        for (message, subject, ack) in pending {
            let mut ack = ack;
            let mut delay = Duration::from_millis(50);
            loop {
                let stored = match ack.take() {
                    Some(ack) => ack.await.map_err(|e| e.to_string()),
                    None => Err("publish not sent".to_owned()),
                };
                match stored {
                    Ok(ack) => {
                        if ack.duplicate {
                            debug!(%subject, "duplicate event; JetStream kept the first");
                        }
                        break;
                    }
                    Err(error) => {
                        warn!(%subject, %error, "JetStream did not store an event; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                        ack = self.js.send_publish(subject.clone(), message.clone()).await.ok();
                    }
                }
            }
        }
    }

    /// The subject and message (payload, id and headers) for `event`.
    fn message(
        &self,
        info: &ConnectionInfo,
        transport: &'static str,
        event: &Event,
    ) -> (String, PublishMessage) {
        let event_id = event.envelope().and_then(|envelope| envelope.event_id());
        let key = key(&self.config, &info.team.id, event, event_id);
        let mut headers = HeaderMap::new();
        headers.insert(TRANSPORT_HEADER, transport);
        headers.insert(TEAM_HEADER, info.team.id.as_str());
        headers.insert(SELF_HEADER, info.self_user.id.as_str());
        let message = PublishMessage::build()
            .payload(Bytes::copy_from_slice(event.json().as_bytes()))
            .headers(headers)
            .message_id(&key.id);
        (key.subject, message)
    }
}

/// Stops a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

//! Run one rtm bot on several machines over [NATS JetStream](https://docs.nats.io/nats-concepts/jetstream).
//!
//! - [`Gateway`]s hold the Slack connections (RTM or Socket Mode) and store every event in a
//!   JetStream stream, under a message id that makes Slack's retries and an event seen by two
//!   gateways one stored event.
//! - [`Worker`]s take events from one durable consumer they all share and run the bot's
//!   handlers (the same `#[rtm_event]` functions as in a single process), acknowledging an
//!   event only once its handlers succeeded.
//!
//! Delivery is at-least-once: an event is handled again only when a worker died or failed
//! while handling it, so handlers should be idempotent (the event's id is stable).
#![deny(missing_docs)]

mod config;
mod error;
mod gateway;
mod key;
mod lease;
mod relay;
#[cfg(feature = "test-server")]
mod server;
mod topology;
mod worker;

pub use crate::{
    config::{JetStreamConfig, JetStreamConfigBuilder},
    error::JetStreamError,
    gateway::{Gateway, SELF_HEADER, TEAM_HEADER, TRANSPORT_HEADER},
    lease::{LEASE_BUCKET, Workspace},
    worker::{
        DEFAULT_WORKER_CONCURRENCY, DEFAULT_WORKER_SHUTDOWN_TIMEOUT, DELIVERIES_HEADER, ERROR_HEADER, Worker,
    },
};

#[cfg(feature = "test-server")]
pub use crate::server::{NATS_SERVER_ENV, NatsServer};

//! An async client for Slack's Real Time Messaging (RTM) API.
//!
//! - [`RtmClient`] connects (`rtm.connect`, websocket, `hello`), keeps the connection alive
//!   and reconnects by itself. Read events your way: [`RtmClient::read`] (await, then take
//!   *everything* buffered), [`RtmClient::try_read`] (the same without waiting, for your own
//!   loop) or [`RtmClient::events`] (a continuous `Stream`).
//! - [`Event`] keeps the frame's JSON as received; [`Event::parse`] turns it into any serde
//!   type.
//! - [`RtmClient::send_message`] and [`RtmClient::send`] return a [`ReplyFuture`] that
//!   resolves with Slack's reply.
//! - [`ClientConfig`] configures it all through a builder.
//! - With the `emulator` feature, [`emulator::Emulator`] is a local Slack to test bots
//!   offline.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod config;
mod connection;
mod dispatcher;
mod error;
mod event;
mod inbox;
mod outgoing;
mod read;
mod reply;
mod secret;
mod state;
mod tls;
mod web_api;

#[cfg(feature = "emulator")]
pub mod emulator;
pub mod events;

#[doc(hidden)]
pub use crate::dispatcher::private as __private;
pub use crate::dispatcher::{
    AnnotatedHandler, BoxError, Context, DEFAULT_CONCURRENCY_LIMIT, DEFAULT_SHUTDOWN_TIMEOUT, FromEvent,
    Handler, HandlerError, IntoHandlerResult, Ordering, Route, RtmDispatcher,
};
pub use crate::{
    client::RtmClient,
    config::{
        API_URL_ENV, ClientConfig, ClientConfigBuilder, DEFAULT_API_URL, DEFAULT_BACKOFF_BASE,
        DEFAULT_BACKOFF_MAX, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EVENT_BUFFER, DEFAULT_INITIAL_CONNECT_ATTEMPTS,
        DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MIN_CONNECT_INTERVAL,
        DEFAULT_REPLY_TIMEOUT, TOKEN_ENV,
    },
    error::{Error, ParseError, SendError},
    event::Event,
    outgoing::MAX_FRAME_BYTES,
    read::{Batch, Events},
    reply::{Reply, ReplyFuture},
    secret::Token,
    state::{ConnectionState, DisconnectCause, Stats},
    web_api::{ConnectionInfo, SelfUser, Team},
};
#[cfg(feature = "macros")]
pub use rtm_macros::rtm_event;

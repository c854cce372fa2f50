#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod config;
mod connection;
mod dispatcher;
mod envelope;
mod error;
mod event;
mod inbox;
mod outgoing;
mod read;
mod reply;
mod respond;
mod secret;
mod socket_mode;
// TEMPORARY: replaced at merge by branch `ack`.
mod state;
mod tls;
mod web_api;

#[cfg(feature = "emulator")]
pub mod emulator;
pub mod events;
pub mod interactive;
pub mod web;

#[doc(hidden)]
pub use crate::dispatcher::private as __private;
pub use crate::dispatcher::{
    AnnotatedHandler, BoxError, Context, DEFAULT_CONCURRENCY_LIMIT, DEFAULT_SHUTDOWN_TIMEOUT,
    DispatcherProbe, FromContext, FromEvent, FromRef, Handler, HandlerError, Handlers, IntoHandlerResult,
    Ordering, Outbound, Route, RtmDispatcher, SentMessage, State, TestContext,
};
pub use crate::{
    client::RtmClient,
    config::{
        API_URL_ENV, ClientConfig, ClientConfigBuilder, DEFAULT_API_URL, DEFAULT_BACKOFF_BASE,
        DEFAULT_BACKOFF_MAX, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EVENT_BUFFER, DEFAULT_INITIAL_CONNECT_ATTEMPTS,
        DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MIN_CONNECT_INTERVAL,
        DEFAULT_REPLY_TIMEOUT, DEFAULT_RESPONSE_BUDGET, DEFAULT_SOCKET_MODE_CONNECTIONS, MAX_RESPONSE_BUDGET,
        MAX_SOCKET_MODE_CONNECTIONS, TOKEN_ENV,
    },
    envelope::{Envelope, EnvelopeKind},
    error::{Error, ParseError, SendError},
    event::Event,
    outgoing::MAX_FRAME_BYTES,
    read::{Batch, Events},
    reply::{Reply, ReplyFuture},
    respond::{Answered, RespondError},
    secret::Token,
    socket_mode::{APP_TOKEN_ENV, BOT_TOKEN_ENV, SocketModeClient},
    // TEMPORARY: replaced at merge by branch `ack`.
    state::{ConnectionState, DisconnectCause, Stats},
    web::{WebClient, WebError},
    web_api::{ConnectionInfo, SelfUser, Team},
};
#[cfg(feature = "macros")]
pub use rtm_macros::{interaction, rtm_event, slash_command};

/// The workspace README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;

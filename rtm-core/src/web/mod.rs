//! The Web API client: [`WebClient`], its typed errors, pacing, retries, pagination and the
//! typed helpers for the methods a bot uses most.
//!
//! The wire rules it follows (POST everywhere, token in the header, JSON only where Slack
//! accepts it, `Retry-After` per method, cursors) are in the protocol notes, §11.

pub(crate) mod body;
mod client;
mod error;
mod limits;
mod methods;
mod paginate;
mod retry;
mod types;

pub use self::{
    client::{
        DEFAULT_MAX_IN_FLIGHT, DEFAULT_PAGE_SIZE, DEFAULT_REQUEST_TIMEOUT, WebClient, WebClientBuilder,
    },
    error::WebError,
    limits::Pacing,
    methods::PostMessage,
    paginate::{Page, Paginated},
    retry::RetryPolicy,
    types::{AuthTest, Changed, Conversation, Message, Posted, User},
};

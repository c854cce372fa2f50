//! [`WebError`]: why a Web API call failed, with everything Slack said about it.

use std::time::Duration;

use crate::error::{Source, is_retryable_code};

/// Why a [`WebClient`](crate::WebClient) call failed.
///
/// Every variant names the Web API method. Slack's own refusals keep its error code verbatim
/// (the list of codes grows; unknown ones are kept as they are). Like the other errors of this
/// crate it is `Clone`, and foreign errors (reqwest, serde_json) are reachable only through
/// [`std::error::Error::source`]. The token never appears in it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// Slack answered `ok: false` with `code` (e.g. `channel_not_found`, `invalid_auth`,
    /// `missing_scope`).
    #[error("{method} failed: {code}{}", scope_hint(needed.as_deref(), provided.as_deref()))]
    Slack {
        /// The Web API method, e.g. `chat.postMessage`.
        method: String,
        /// Slack's error code.
        code: String,
        /// For `missing_scope`: the scopes the method needs (comma-separated, as Slack sends).
        needed: Option<String>,
        /// For `missing_scope`: the scopes the token has (comma-separated).
        provided: Option<String>,
        /// `response_metadata.messages`: Slack's human-readable details (e.g. why blocks are
        /// invalid).
        messages: Vec<String>,
    },
    /// Slack rate-limited the call (HTTP 429, or `ratelimited`, `rate_limited`,
    /// `message_limit_exceeded`) and the client ran out of attempts.
    #[error("{method} rate limited by slack, retry after {retry_after:?}")]
    RateLimited {
        /// The Web API method.
        method: String,
        /// How long Slack asked to wait (`Retry-After`; one second when absent).
        retry_after: Duration,
    },
    /// An HTTP status other than 200 or 429 (usually a 5xx from a proxy, often with an HTML
    /// body).
    #[error("{method} answered HTTP {status}")]
    Status {
        /// The Web API method.
        method: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The request failed in transport: connection refused, TLS, timeout, reset.
    #[error("{method} request failed: {reason}")]
    Transport {
        /// The Web API method.
        method: String,
        /// What went wrong, without the token or the full URL.
        reason: String,
        /// Whether the request may have reached Slack (a write may then have taken effect).
        maybe_sent: bool,
        /// The underlying error.
        #[source]
        source: Option<Source>,
    },
    /// The response was not the JSON expected for this method.
    #[error("{method} returned an unexpected response: {reason}")]
    Decode {
        /// The Web API method.
        method: String,
        /// serde's message, which names the field.
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<Source>,
    },
    /// The arguments could not be encoded; nothing was sent.
    #[error("invalid arguments for {method}: {reason}; nothing was sent")]
    InvalidArguments {
        /// The Web API method.
        method: String,
        /// Why.
        reason: String,
    },
    /// The client configuration is invalid (base URL, HTTP client).
    #[error("invalid web client configuration: {0}")]
    Config(String),
}

fn scope_hint(needed: Option<&str>, provided: Option<&str>) -> String {
    match (needed, provided) {
        (Some(needed), Some(provided)) => format!(" (needed: {needed}; provided: {provided})"),
        (Some(needed), None) => format!(" (needed: {needed})"),
        _ => String::new(),
    }
}

impl WebError {
    /// The Web API method that failed (`None` only for [`WebError::Config`]).
    pub fn method(&self) -> Option<&str> {
        match self {
            WebError::Slack { method, .. }
            | WebError::RateLimited { method, .. }
            | WebError::Status { method, .. }
            | WebError::Transport { method, .. }
            | WebError::Decode { method, .. }
            | WebError::InvalidArguments { method, .. } => Some(method),
            WebError::Config(_) => None,
        }
    }

    /// Slack's error code: the `error` field of an `ok: false` answer, or `ratelimited`.
    pub fn slack_code(&self) -> Option<&str> {
        match self {
            WebError::Slack { code, .. } => Some(code),
            WebError::RateLimited { .. } => Some("ratelimited"),
            _ => None,
        }
    }

    /// For `missing_scope`: the scopes the method needs, as Slack listed them.
    pub fn needed_scopes(&self) -> Option<&str> {
        match self {
            WebError::Slack { needed, .. } => needed.as_deref(),
            _ => None,
        }
    }

    /// For `missing_scope`: the scopes the token has.
    pub fn provided_scopes(&self) -> Option<&str> {
        match self {
            WebError::Slack { provided, .. } => provided.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, when the answer had one other than 200 (429 for rate limits).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            WebError::Status { status, .. } => Some(*status),
            WebError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// How long Slack asked to wait, for rate limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WebError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whether a later attempt may succeed: rate limits, transport and 5xx failures, and the
    /// Slack codes the socket client also retries (`internal_error`, `fatal_error`,
    /// `service_unavailable`, …). Auth errors (`invalid_auth`, `token_revoked`, …), missing
    /// scopes and caller bugs are not. For a write, check [`WebError::maybe_applied`] before
    /// resending.
    pub fn is_retryable(&self) -> bool {
        match self {
            WebError::Slack { code, .. } => is_retryable_code(code),
            WebError::RateLimited { .. } | WebError::Transport { .. } => true,
            WebError::Status { status, .. } => *status >= 500,
            WebError::Decode { .. } | WebError::InvalidArguments { .. } | WebError::Config(_) => false,
        }
    }

    /// Whether the call may have taken effect even though it failed: a 5xx, `internal_error`,
    /// `fatal_error`, or a transport failure after the request was sent. A post that fails this
    /// way may have been posted; resending it could post twice (Slack has no idempotency key).
    pub fn maybe_applied(&self) -> bool {
        match self {
            WebError::Slack { code, .. } => matches!(
                code.as_str(),
                "internal_error" | "fatal_error" | "request_timeout" | "service_unavailable"
            ),
            WebError::Status { status, .. } => *status >= 500,
            WebError::Transport { maybe_sent, .. } => *maybe_sent,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_strings_are_pinned() {
        let e = WebError::Slack {
            method: "chat.postMessage".into(),
            code: "missing_scope".into(),
            needed: Some("chat:write".into()),
            provided: Some("channels:read".into()),
            messages: vec![],
        };
        assert_eq!(
            e.to_string(),
            "chat.postMessage failed: missing_scope (needed: chat:write; provided: channels:read)"
        );
        assert_eq!(e.needed_scopes(), Some("chat:write"));
        assert!(!e.is_retryable());
        let e = WebError::RateLimited {
            method: "users.info".into(),
            retry_after: Duration::from_secs(3),
        };
        assert_eq!(e.to_string(), "users.info rate limited by slack, retry after 3s");
        assert_eq!(e.http_status(), Some(429));
        assert_eq!(
            WebError::Status {
                method: "auth.test".into(),
                status: 502
            }
            .to_string(),
            "auth.test answered HTTP 502"
        );
    }

    #[test]
    fn fatal_codes_match_the_socket_client() {
        for code in [
            "invalid_auth",
            "token_revoked",
            "not_allowed_token_type",
            "account_inactive",
        ] {
            let e = WebError::Slack {
                method: "auth.test".into(),
                code: code.into(),
                needed: None,
                provided: None,
                messages: vec![],
            };
            assert!(!e.is_retryable(), "{code}");
            assert_eq!(
                e.is_retryable(),
                crate::Error::Slack { code: code.into() }.is_retryable()
            );
        }
    }

    #[test]
    fn errors_are_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<WebError>();
    }
}

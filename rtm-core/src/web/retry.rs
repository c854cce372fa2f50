//! When a failed call is sent again (§11.4 of the protocol notes).
//!
//! - Always resent: a 429 or another rate-limit answer (the request was refused, and the
//!   per-method gate makes the resend wait exactly `Retry-After`), and a transport failure
//!   before the request was written (connection refused, DNS, TLS).
//! - Resent only for idempotent methods: a 5xx, `internal_error`, `fatal_error` and the other
//!   codes the socket client also retries, a timeout or reset after sending. A post may have
//!   gone through, and Slack has no idempotency key, so `chat.postMessage` is **not** resent:
//!   the error says [`maybe_applied`](crate::WebError::maybe_applied). Reads, `chat.update`,
//!   `reactions.*`, `conversations.open` and `views.publish` are idempotent.
//!   [`RetryPolicy::resend_writes`] changes that for callers who reconcile themselves.
//! - Never resent: every other `ok: false` (auth, scopes, caller bugs, not found).

use std::time::Duration;

/// How many times, and when, a [`WebClient`](crate::WebClient) sends a failed call again.
///
/// Default: up to [`RetryPolicy::DEFAULT_MAX_ATTEMPTS`] attempts in all, jittered exponential
/// backoff from [`RetryPolicy::DEFAULT_BACKOFF_BASE`] up to
/// [`RetryPolicy::DEFAULT_BACKOFF_MAX`] (rate limits wait `Retry-After` instead), and writes
/// not resent once they may have reached Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) resend_writes: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            backoff_base: Self::DEFAULT_BACKOFF_BASE,
            backoff_max: Self::DEFAULT_BACKOFF_MAX,
            resend_writes: false,
        }
    }
}

impl RetryPolicy {
    /// Attempts per call, the first included, unless changed.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
    /// First backoff delay (before jitter) unless changed.
    pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(500);
    /// Longest backoff delay unless changed.
    pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(10);

    /// One attempt per call: every failure, rate limits included, is returned at once.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Attempts per call, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Backoff between attempts that are not rate limited: `base × 2^(n-1)` capped at `max`,
    /// each delay drawn between half and all of that.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max.max(base);
        self
    }

    /// Also resend writes (`chat.postMessage`, …) after a failure that may have happened after
    /// Slack applied them (default `false`). Only for callers who tolerate duplicates.
    pub fn resend_writes(mut self, resend: bool) -> Self {
        self.resend_writes = resend;
        self
    }

    /// The delay before attempt `attempt + 1`, after `attempt` failures (1-based).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let factor = 2_u32.saturating_pow(attempt.saturating_sub(1));
        let full = self.backoff_base.saturating_mul(factor).min(self.backoff_max);
        full.mul_f64(0.5 + fastrand::f64() * 0.5)
    }

    /// Whether a failure that may have been applied is resent for `method`.
    pub(crate) fn may_resend(&self, method: &str) -> bool {
        self.resend_writes || is_idempotent(method)
    }
}

/// Methods whose repetition is harmless: reads, plus the writes that converge
/// (`already_reacted`, `no_reaction`, same update, same DM, same Home tab).
pub(crate) fn is_idempotent(method: &str) -> bool {
    if matches!(
        method,
        "chat.update"
            | "reactions.add"
            | "reactions.remove"
            | "conversations.open"
            | "views.publish"
            | "auth.test"
            | "rtm.connect"
    ) {
        return true;
    }
    let last = method.rsplit('.').next().unwrap_or(method);
    matches!(
        last,
        "info" | "list" | "history" | "replies" | "members" | "conversations" | "test"
    ) || last.starts_with("get")
        || last.starts_with("list")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_idempotent_posts_are_not() {
        for read in [
            "conversations.history",
            "conversations.replies",
            "users.info",
            "users.list",
            "chat.getPermalink",
            "chat.scheduledMessages.list",
            "reactions.add",
        ] {
            assert!(is_idempotent(read), "{read}");
        }
        for write in [
            "chat.postMessage",
            "chat.postEphemeral",
            "chat.delete",
            "views.open",
            "x.y",
        ] {
            assert!(!is_idempotent(write), "{write}");
        }
        assert!(
            RetryPolicy::default()
                .resend_writes(true)
                .may_resend("chat.postMessage")
        );
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let policy = RetryPolicy::default().backoff(Duration::from_secs(1), Duration::from_secs(4));
        for _ in 0..100 {
            let first = policy.delay(1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let late = policy.delay(30);
            assert!(late >= Duration::from_secs(2) && late <= Duration::from_secs(4));
        }
        assert_eq!(RetryPolicy::never().max_attempts, 1);
        assert_eq!(RetryPolicy::default().max_attempts(0).max_attempts, 1);
    }
}

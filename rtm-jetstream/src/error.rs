//! [`JetStreamError`].

/// What can go wrong between a gateway or worker and NATS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JetStreamError {
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    /// Creating or checking the streams, consumers or lease bucket failed (e.g. JetStream is
    /// not enabled on the server: start it with `-js`).
    #[error("cannot set up JetStream: {0}")]
    Setup(String),
    /// JetStream did not store an event. The gateway did not acknowledge it to Slack.
    #[error("JetStream did not store an event: {0}")]
    Publish(String),
    /// Taking messages from the consumer failed.
    #[error("cannot take events from JetStream: {0}")]
    Consume(String),
    /// The Slack client stopped with this error.
    #[error(transparent)]
    Slack(#[from] rtm_core::Error),
}

pub(crate) fn setup(error: impl std::fmt::Display) -> JetStreamError {
    JetStreamError::Setup(error.to_string())
}

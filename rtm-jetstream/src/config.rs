//! [`JetStreamConfig`]: names and timings shared by gateways and workers.

use std::time::Duration;

/// Where events are stored and how workers take them. Gateways and workers of one bot must
/// use the same configuration. Build it with [`JetStreamConfig::builder`].
#[derive(Debug, Clone)]
pub struct JetStreamConfig {
    pub(crate) stream: String,
    pub(crate) subject_prefix: String,
    pub(crate) duplicate_window: Duration,
    pub(crate) max_age: Duration,
    pub(crate) consumer: String,
    pub(crate) ack_wait: Duration,
    pub(crate) max_deliver: u32,
    pub(crate) backoff: Vec<Duration>,
    pub(crate) dead_letter_stream: String,
    pub(crate) dead_letter_prefix: String,
    pub(crate) lanes: u16,
}

/// Builder for [`JetStreamConfig`].
#[derive(Debug, Clone)]
pub struct JetStreamConfigBuilder {
    config: JetStreamConfig,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        JetStreamConfig {
            stream: "SLACK_EVENTS".into(),
            subject_prefix: "slack".into(),
            // Longer than Slack's last retry (5 minutes), so every retry of a stored event is
            // absorbed by JetStream, whichever gateway it reaches.
            duplicate_window: Duration::from_secs(10 * 60),
            max_age: Duration::from_secs(24 * 3600),
            consumer: "rtm-workers".into(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120),
            ],
            dead_letter_stream: "SLACK_DEAD_LETTERS".into(),
            dead_letter_prefix: "slack-dead".into(),
            lanes: 16,
        }
    }
}

impl JetStreamConfig {
    /// The defaults: stream `SLACK_EVENTS` on subjects `slack.>`, a 10-minute duplicate
    /// window, 24 h retention, consumer `rtm-workers`, 30 s ack wait, 5 deliveries with
    /// 1 s / 5 s / 30 s / 2 min between them, dead letters on `slack-dead.>` in
    /// `SLACK_DEAD_LETTERS`, 16 ordered lanes.
    pub fn builder() -> JetStreamConfigBuilder {
        JetStreamConfigBuilder {
            config: JetStreamConfig::default(),
        }
    }

    /// How long a worker may hold a message without a sign of life before JetStream hands it
    /// to another worker. Running handlers send progress acks every third of it.
    pub fn ack_wait(&self) -> Duration {
        self.ack_wait
    }

    /// Deliveries of one event before it goes to the dead letters.
    pub fn max_deliver(&self) -> u32 {
        self.max_deliver
    }

    /// The delay before the delivery after the `delivered`-th failed one.
    pub(crate) fn backoff_after(&self, delivered: u32) -> Duration {
        let index = delivered.saturating_sub(1) as usize;
        self.backoff
            .get(index)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }
}

impl JetStreamConfigBuilder {
    /// The stream's name (default `SLACK_EVENTS`).
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.config.stream = name.into();
        self
    }

    /// The first token of every event subject (default `slack`): events are stored on
    /// `<prefix>.<team>.<type>.<lane>`.
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.subject_prefix = prefix.into();
        self
    }

    /// How long JetStream remembers message ids to drop duplicates (default 10 minutes; keep
    /// it above Slack's 5-minute retry).
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.config.duplicate_window = window;
        self
    }

    /// How long events are kept at most (default 24 h).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.config.max_age = age;
        self
    }

    /// The durable consumer all workers share (default `rtm-workers`).
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.config.consumer = name.into();
        self
    }

    /// See [`JetStreamConfig::ack_wait`] (default 30 s).
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.config.ack_wait = wait;
        self
    }

    /// Deliveries before an event goes to the dead letters (default 5, at least 1).
    pub fn max_deliver(mut self, deliveries: u32) -> Self {
        self.config.max_deliver = deliveries.max(1);
        self
    }

    /// Delays before each redelivery after a failure; the last repeats (default 1 s, 5 s,
    /// 30 s, 2 min).
    pub fn backoff(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.config.backoff = delays.into_iter().collect();
        self
    }

    /// The dead-letter stream and its subject prefix (default `SLACK_DEAD_LETTERS`,
    /// `slack-dead`).
    pub fn dead_letters(mut self, stream: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.config.dead_letter_stream = stream.into();
        self.config.dead_letter_prefix = prefix.into();
        self
    }

    /// How many ordered lanes per-channel ordering spreads channels over (default 16): the
    /// events of one lane are handled one at a time, across all workers.
    pub fn lanes(mut self, lanes: u16) -> Self {
        self.config.lanes = lanes.max(1);
        self
    }

    /// The configuration.
    pub fn build(self) -> JetStreamConfig {
        self.config
    }
}

//! The streams and consumers a bot needs, created when missing (idempotent, so every
//! gateway and worker may call it at start).

use async_nats::jetstream::{
    self,
    consumer::{self, AckPolicy, pull},
    stream::{self, StorageType},
};

use crate::{JetStreamConfig, JetStreamError, error::setup};

/// Room for events a worker holds at once over all workers of the unordered consumer.
const MAX_ACK_PENDING: i64 = 10_000;

/// The events stream and the dead-letter stream.
pub(crate) async fn ensure_streams(
    js: &jetstream::Context,
    config: &JetStreamConfig,
) -> Result<stream::Stream, JetStreamError> {
    let events = js
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![format!("{}.>", config.subject_prefix)],
            duplicate_window: config.duplicate_window,
            max_age: config.max_age,
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(setup)?;
    js.get_or_create_stream(stream::Config {
        name: config.dead_letter_stream.clone(),
        subjects: vec![format!("{}.>", config.dead_letter_prefix)],
        storage: StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(setup)?;
    Ok(events)
}

/// The consumers a worker takes from: one shared by every worker when order does not
/// matter, or one per lane (at most one event of a lane in flight, over all workers) when
/// events of a channel must be handled in order.
pub(crate) async fn ensure_consumers(
    events: &stream::Stream,
    config: &JetStreamConfig,
    ordered: bool,
) -> Result<Vec<consumer::Consumer<pull::Config>>, JetStreamError> {
    // The server stops on its own a little after our own limit: a message whose handling
    // kills its worker every time (so our dead-letter step never runs) still ends.
    let max_deliver = i64::from(config.max_deliver) + 2;
    let base = pull::Config {
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver,
        ..Default::default()
    };
    let mut wanted = Vec::new();
    if ordered {
        for lane in 0..config.lanes {
            let name = format!("{}-lane-{lane}", config.consumer);
            wanted.push(pull::Config {
                durable_name: Some(name),
                filter_subject: format!("{}.*.*.{lane}", config.subject_prefix),
                max_ack_pending: 1,
                ..base.clone()
            });
        }
    } else {
        wanted.push(pull::Config {
            durable_name: Some(config.consumer.clone()),
            filter_subject: format!("{}.>", config.subject_prefix),
            max_ack_pending: MAX_ACK_PENDING,
            ..base
        });
    }
    let mut consumers = Vec::with_capacity(wanted.len());
    for consumer_config in wanted {
        let name = consumer_config.durable_name.clone().unwrap_or_default();
        consumers.push(
            events
                .get_or_create_consumer(&name, consumer_config)
                .await
                .map_err(setup)?,
        );
    }
    Ok(consumers)
}

//! Shared helpers for the integration tests: an emulator per test, a client configured with
//! short intervals, and a bound on every wait.

use std::{
    future::Future,
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use rtm_core::{ClientConfig, ClientConfigBuilder, Event, RtmClient, emulator::Emulator};

/// Upper bound for any single wait in a test. Generous: CI machines are shared and slow.
pub const WAIT: Duration = Duration::from_secs(10);

/// Fails the test if `fut` does not finish within `WAIT`.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Installs a test subscriber once (set `RUST_LOG=rtm_core=debug` to see the client's logs).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Collects everything a `tracing` subscriber writes.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// A subscriber writing here at `max_level` and above, the default on this thread until
    /// the guard drops (a current-thread runtime's tasks all run on it).
    pub fn install(max_level: tracing::Level) -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
        let captured = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(max_level)
            .with_ansi(false)
            .with_writer({
                let captured = captured.clone();
                move || captured.clone()
            })
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts an emulator with default settings.
pub async fn emulator() -> Emulator {
    init_tracing();
    Emulator::start().await.expect("emulator starts")
}

/// A client configuration for `emulator` with test-friendly timings: fast keepalive and
/// backoff so fault tests finish in well under a second each.
pub fn config(emulator: &Emulator) -> ClientConfigBuilder {
    ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .keepalive_interval(Duration::from_millis(50))
        .keepalive_timeout(Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .min_connect_interval(Duration::from_millis(5))
        .reply_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
}

/// Connects a client to `emulator` with [`config`] and consumes the `hello` event.
pub async fn connect(emulator: &Emulator) -> RtmClient {
    connect_with(config(emulator)).await
}

/// Connects with a custom configuration and consumes the `hello` event.
pub async fn connect_with(config: ClientConfigBuilder) -> RtmClient {
    let client = within(
        "connect",
        RtmClient::connect(config.build().expect("valid config")),
    )
    .await
    .expect("client connects");
    let hello = within("hello", client.read())
        .await
        .expect("no error")
        .expect("not closed");
    assert_eq!(hello.iter().next().map(Event::kind), Some("hello"));
    client
}

/// Reads until `n` events that are not `hello`/`goodbye` have arrived; returns them in order.
pub async fn read_events(client: &RtmClient, n: usize) -> Vec<Event> {
    within(&format!("{n} events"), async {
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            let batch = client.read().await.expect("no error").expect("not closed");
            events.extend(
                batch
                    .into_iter()
                    .filter(|e| !matches!(e.kind(), "hello" | "goodbye")),
            );
        }
        events
    })
    .await
}

/// The `text` field of each event.
pub fn texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e.parse::<serde_json::Value>().expect("json")["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Waits until `cond` holds, checking every few milliseconds, bounded by `WAIT`.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

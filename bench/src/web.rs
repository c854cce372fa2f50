//! The Web API scenario (issue 11): calls per second and client CPU per call through
//! `WebClient`, next to raw reqwest doing the same calls, against the bundled emulator in the
//! same run.
//!
//! The emulator runs on a runtime of its own thread; each client runs on a current-thread
//! runtime in another thread, so that thread's CPU time (`/proc/thread-self/schedstat`) is
//! the client's alone: building the request, HTTP, parsing the answer, and for `WebClient`
//! the limiter, retry bookkeeping and typed decoding. Both clients make the same
//! `users.info` form call (concurrency 1 and 16) and check `ok` and the user id; runs
//! alternate between the two so machine noise falls on both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rtm_core::WebClient;
use rtm_core::emulator::Emulator;
use rtm_core::web::{Pacing, RetryPolicy};

/// The marker pair around the generated section in BENCHMARKS.md.
const BEGIN: &str = "<!-- bench-web:begin -->";
const END: &str = "<!-- bench-web:end -->";

/// Which client makes the calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ours,
    Raw,
}

/// One measured phase.
#[derive(Debug, Clone, Copy)]
struct Sample {
    calls_per_sec: f64,
    cpu_us_per_call: f64,
}

/// CPU nanoseconds the calling thread has used.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs `calls` `users.info` calls with `concurrency` in flight, on a fresh current-thread
/// runtime in a thread of its own; returns the rate and the thread's CPU per call.
fn measure(
    kind: Kind,
    api_url: String,
    token: String,
    calls: usize,
    concurrency: usize,
) -> Result<Sample, String> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let ours = WebClient::builder(token.as_str())
                .api_url(api_url.as_str())
                .pacing(Pacing::none())
                .retry(RetryPolicy::never())
                .build()
                .map_err(|e| e.to_string())?;
            let raw = reqwest::Client::new();
            let raw_url = format!("{api_url}users.info");
            let one = |_| {
                let (ours, raw, raw_url, token) = (ours.clone(), raw.clone(), raw_url.clone(), token.clone());
                async move {
                    match kind {
                        Kind::Ours => {
                            let user = ours.users_info("U0ALICE").await.map_err(|e| e.to_string())?;
                            (user.id == "U0ALICE")
                                .then_some(())
                                .ok_or("wrong user".to_owned())
                        }
                        Kind::Raw => raw_call(&raw, &raw_url, &token).await,
                    }
                }
            };
            // Warm up the connection pool and both code paths.
            for i in 0..concurrency.max(8) {
                one(i).await?;
            }
            let cpu0 = thread_cpu_ns().ok_or("no /proc/thread-self/schedstat")?;
            let t0 = Instant::now();
            let mut results = futures::stream::iter(0..calls)
                .map(one)
                .buffer_unordered(concurrency);
            while let Some(result) = results.next().await {
                result?;
            }
            let secs = t0.elapsed().as_secs_f64();
            let cpu = thread_cpu_ns().ok_or("no schedstat")?.saturating_sub(cpu0);
            #[allow(clippy::cast_precision_loss)]
            let sample = Sample {
                calls_per_sec: calls as f64 / secs,
                cpu_us_per_call: cpu as f64 / 1_000.0 / calls as f64,
            };
            Ok(sample)
        })
    })
    .join()
    .map_err(|_| "client thread panicked".to_owned())?
}

/// The same call as `WebClient::users_info`, by hand: form body, bearer token, JSON parse,
/// `ok` and id checked.
async fn raw_call(http: &reqwest::Client, url: &str, token: &str) -> Result<(), String> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("user=U0ALICE")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    (value["ok"] == true && value["user"]["id"] == "U0ALICE")
        .then_some(())
        .ok_or_else(|| format!("unexpected answer: {value}"))
}

/// Runs the scenario and returns the Markdown section; with `write`, splices it into `doc`.
pub fn run(smoke: bool, runs: usize, write: Option<&std::path::Path>) -> Result<String, String> {
    // The raw client uses reqwest's default TLS setup, which needs a process-wide provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (calls, runs) = if smoke { (200, 1) } else { (20_000, runs.max(1)) };
    // The emulator on a runtime of its own, in its own thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async move {
            match Emulator::start().await {
                Ok(emulator) => {
                    let _ = tx.send(Ok((emulator.api_url(), emulator.token().to_owned())));
                    let _ = stop_rx.await;
                    drop(emulator);
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        });
    });
    let (api_url, token) = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|e| e.to_string())??;
    let emulator = Arc::new((api_url, token));

    let mut table = Vec::new();
    for concurrency in [1, 16] {
        let mut ours = Vec::new();
        let mut raw = Vec::new();
        for run in 0..runs {
            // Alternate which goes first, so drift in machine load falls on both.
            let order = if run % 2 == 0 {
                [Kind::Raw, Kind::Ours]
            } else {
                [Kind::Ours, Kind::Raw]
            };
            for kind in order {
                let sample = measure(kind, emulator.0.clone(), emulator.1.clone(), calls, concurrency)?;
                eprintln!(
                    "web: {kind:?} c={concurrency} run {}: {:.0} calls/s, {:.1} µs CPU/call",
                    run + 1,
                    sample.calls_per_sec,
                    sample.cpu_us_per_call
                );
                match kind {
                    Kind::Ours => ours.push(sample),
                    Kind::Raw => raw.push(sample),
                }
            }
        }
        table.push((concurrency, median_sample(&ours), median_sample(&raw)));
    }
    let _ = stop_tx.send(());
    let _ = server.join();

    let mut md = format!(
        "{BEGIN}\n## Web API client overhead (issue 11)\n\n\
         Generated by `cargo run --release -p rtm-bench -- web` ({runs} run(s) of {calls} `users.info` calls per \
         client and concurrency; medians). The bundled emulator serves both clients in the same process, on its own \
         thread; CPU is the client thread's own time per call (request building, HTTP, parsing; for `WebClient` \
         also the limiter, retry bookkeeping and typed decoding). Raw = reqwest with a hand-built form body and \
         `serde_json::Value` parsing.\n\n\
         | in flight | WebClient calls/s | raw reqwest calls/s | rate ratio | WebClient CPU/call | raw CPU/call | CPU ratio |\n\
         |---|---|---|---|---|---|---|\n"
    );
    for (concurrency, ours, raw) in &table {
        md.push_str(&format!(
            "| {concurrency} | {:.0} | {:.0} | {:.2}× | {:.1} µs | {:.1} µs | {:.2}× |\n",
            ours.calls_per_sec,
            raw.calls_per_sec,
            ours.calls_per_sec / raw.calls_per_sec,
            ours.cpu_us_per_call,
            raw.cpu_us_per_call,
            ours.cpu_us_per_call / raw.cpu_us_per_call,
        ));
    }
    md.push_str(END);
    md.push('\n');
    if let Some(doc) = write {
        let existing = std::fs::read_to_string(doc).unwrap_or_default();
        std::fs::write(doc, splice(&existing, &md)).map_err(|e| format!("{}: {e}", doc.display()))?;
        eprintln!("wrote {}", doc.display());
    }
    Ok(md)
}

fn median_sample(samples: &[Sample]) -> Sample {
    Sample {
        calls_per_sec: crate::report::median(samples.iter().map(|s| s.calls_per_sec)),
        cpu_us_per_call: crate::report::median(samples.iter().map(|s| s.cpu_us_per_call)),
    }
}

/// Replaces the marked section of `existing`, or appends it.
fn splice(existing: &str, section: &str) -> String {
    if let (Some(start), Some(end)) = (existing.find(BEGIN), existing.find(END))
        && start < end
    {
        let after = &existing[end + END.len()..];
        let after = after.strip_prefix('\n').unwrap_or(after);
        return format!("{}{section}{after}", &existing[..start]);
    }
    let mut out = existing.trim_end().to_owned();
    out.push_str("\n\n");
    out.push_str(section);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_or_appends() {
        let section = format!("{BEGIN}\nnew\n{END}\n");
        let appended = splice("# B\n\ntext\n", &section);
        assert_eq!(appended, format!("# B\n\ntext\n\n{section}"));
        let old = format!("# B\n\n{BEGIN}\nold\n{END}\nrest\n");
        assert_eq!(splice(&old, &section), format!("# B\n\n{section}rest\n"));
    }
}

//! The scenarios: each starts a load server, runs client processes against it and measures them.

use std::{
    path::PathBuf,
    process::Stdio,
    sync::atomic::Ordering::Relaxed,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStdout, Command},
};

use crate::{
    procfs,
    server::{LoadServer, Phase, PhaseResult, TOKEN},
};

/// How much to run; `full()` is the documented configuration, `smoke()` finishes in seconds.
#[derive(Debug, Clone)]
pub struct Settings {
    pub smoke: bool,
    pub runs: usize,
    pub throughput_n: usize,
    pub rates: Vec<f64>,
    pub latency_secs: f64,
    pub scale_ns: Vec<usize>,
    /// Idle window for the largest N (ours); smaller N and the floor use `idle_short`.
    pub idle_long: Duration,
    pub idle_short: Duration,
    pub connect_rate: u32,
    pub spread_events: usize,
    pub dispatch_n: usize,
    /// Burst size of the allocation diagnostics (below the client's 16K event buffer).
    pub profile_n: usize,
    /// Burst size measured under callgrind (after a warm-up burst of a quarter of it).
    pub instr_n: usize,
    /// The longest a throughput burst may take before it counts as incomplete.
    pub burst_max: Duration,
    /// A client whose first session took longer than this runs only once.
    pub slow_session: Duration,
    pub results_dir: PathBuf,
}

impl Settings {
    pub fn full(results_dir: PathBuf) -> Settings {
        Settings {
            smoke: false,
            runs: 3,
            throughput_n: 100_000,
            rates: vec![200.0, 2000.0],
            latency_secs: 5.0,
            scale_ns: vec![1, 100, 1_000, 10_000],
            idle_long: Duration::from_secs(30),
            idle_short: Duration::from_secs(10),
            connect_rate: 500,
            spread_events: 100_000,
            dispatch_n: 1_000_000,
            profile_n: 10_000,
            instr_n: 20_000,
            burst_max: Duration::from_secs(60),
            slow_session: Duration::from_secs(60),
            results_dir,
        }
    }

    pub fn smoke(results_dir: PathBuf) -> Settings {
        Settings {
            smoke: true,
            runs: 1,
            throughput_n: 2_000,
            rates: vec![200.0, 2000.0],
            latency_secs: 0.5,
            scale_ns: vec![1, 50],
            idle_long: Duration::from_secs(1),
            idle_short: Duration::from_secs(1),
            connect_rate: 500,
            spread_events: 1_000,
            dispatch_n: 20_000,
            profile_n: 1_000,
            instr_n: 400,
            burst_max: Duration::from_secs(30),
            slow_session: Duration::from_secs(60),
            results_dir,
        }
    }
}

/// How to start one client process.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub key: &'static str,
    pub label: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub is_floor: bool,
    pub ours: bool,
}

impl ClientSpec {
    fn command(&self, api_url: &str, log: &std::path::Path) -> std::io::Result<Command> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        configure(&mut cmd, api_url, log)?;
        Ok(cmd)
    }
}

/// The environment every client gets: the token and URL, no proxies, a log file.
pub(crate) fn configure(cmd: &mut Command, api_url: &str, log: &std::path::Path) -> std::io::Result<()> {
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(proxy);
    }
    let log = std::fs::File::create(log)?;
    cmd.env("SLACK_TOKEN", TOKEN)
        .env("SLACK_API_URL", api_url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    Ok(())
}

pub(crate) async fn stop(mut child: Child) {
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

pub(crate) fn log_path(settings: &Settings, name: &str) -> PathBuf {
    settings.results_dir.join("logs").join(format!("{name}.log"))
}

pub(crate) fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

// ---------------------------------------------------------------------------------------------
// Throughput and latency

/// One client session: the throughput burst, then each fixed rate.
#[derive(Debug, Clone, Default)]
pub struct EchoMeasure {
    pub throughput: PhaseResult,
    /// Client CPU seconds during the burst, per echoed event, in microseconds.
    pub cpu_us_per_event: f64,
    /// Thread context switches in the client during the burst, per echoed event.
    pub switches_per_event: f64,
    pub peak_rss_kb: u64,
    pub latency: Vec<PhaseResult>,
    pub error: Option<String>,
    pub wall: Duration,
    /// Websocket sessions the client opened beyond its first (reconnects).
    pub reconnects: u64,
}

/// Every session of one client.
#[derive(Debug, Clone)]
pub struct EchoResults {
    pub spec: ClientSpec,
    pub runs: Vec<EchoMeasure>,
}

pub async fn echo(settings: &Settings, clients: &[ClientSpec]) -> std::io::Result<Vec<EchoResults>> {
    let server = LoadServer::start(None).await?;
    let mut results: Vec<EchoResults> = clients
        .iter()
        .map(|spec| EchoResults {
            spec: spec.clone(),
            runs: Vec::new(),
        })
        .collect();
    for run in 0..settings.runs {
        for result in &mut results {
            let first = result.runs.first();
            if run > 0
                && first.is_some_and(|m| {
                    m.wall > settings.slow_session || m.error.is_some() || !m.throughput.completed
                })
            {
                continue;
            }
            let m = echo_session(&server, &result.spec, settings, run).await;
            eprintln!(
                "  [run {}/{}] {:<24} {}",
                run + 1,
                settings.runs,
                result.spec.label,
                summary(&m)
            );
            result.runs.push(m);
        }
    }
    Ok(results)
}

fn summary(m: &EchoMeasure) -> String {
    if let Some(e) = &m.error {
        return format!("FAILED: {e}");
    }
    let t = &m.throughput;
    let mut s = format!(
        "{}{:>9.0} ev/s  cpu {:>6.2} µs/ev  switches {:>5.3}/ev  peak {:>6.1} MB  lost {} dup {} reord {}",
        if t.completed { "" } else { "INCOMPLETE " },
        t.rate(),
        m.cpu_us_per_event,
        m.switches_per_event,
        m.peak_rss_kb as f64 / 1024.0,
        t.lost(),
        t.duplicates,
        t.reordered
    );
    for l in &m.latency {
        s.push_str(&format!("  p99 {:.0}µs", l.percentile(99.0)));
    }
    if m.reconnects > 0 {
        s.push_str(&format!("  RECONNECTED {}×", m.reconnects));
    }
    s
}

async fn echo_session(
    server: &LoadServer,
    spec: &ClientSpec,
    settings: &Settings,
    run: usize,
) -> EchoMeasure {
    let started = Instant::now();
    let mut m = echo_session_inner(server, spec, settings, run)
        .await
        .unwrap_or_else(|e| EchoMeasure {
            error: Some(e),
            ..EchoMeasure::default()
        });
    m.wall = started.elapsed();
    m
}

async fn echo_session_inner(
    server: &LoadServer,
    spec: &ClientSpec,
    settings: &Settings,
    run: usize,
) -> Result<EchoMeasure, String> {
    server.discard_pending_sessions().await;
    let sessions_before = server.counters().sessions.load(Relaxed);
    let log = log_path(settings, &format!("echo-{}-{}", spec.key, run + 1));
    let child = spec
        .command(&server.api_url(), &log)
        .and_then(|mut c| c.spawn())
        .map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("no pid")?;
    let Some(session) = server.next_session(Duration::from_secs(30)).await else {
        stop(child).await;
        return Err(format!("did not connect within 30 s ({})", tail(&log)));
    };
    // Some clients accept sends only a while after hello (node's RTMClient waits up to 2 s in a
    // "resuming" state): probe with single events until one is echoed.
    let mut ready = false;
    for _ in 0..40 {
        if session
            .paced(1, 1.0)
            .wait(Duration::from_millis(500), Duration::from_millis(500))
            .await
        {
            ready = true;
            break;
        }
    }
    if !ready {
        session.stop();
        stop(child).await;
        return Err(format!(
            "connected but echoed nothing within 20 s ({})",
            tail(&log)
        ));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Fixed rates first, then the burst: a client the burst breaks still gets its latency measured.
    let mut latency = Vec::new();
    for &rate in &settings.rates {
        let n = (rate * settings.latency_secs).round() as usize;
        let phase = session.paced(n, rate);
        let max = Duration::from_secs_f64(settings.latency_secs * 3.0 + 30.0);
        phase.wait(Duration::from_secs(10), max).await;
        latency.push(phase.result());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let cpu0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let switches0 = procfs::context_switches(pid).unwrap_or(0);
    let phase = session.burst(settings.throughput_n);
    phase.wait(Duration::from_secs(15), settings.burst_max).await;
    let cpu1 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let switches1 = procfs::context_switches(pid).unwrap_or(0);
    let throughput = phase.result();
    let cpu_us_per_event = if throughput.received > 0 {
        (cpu1 - cpu0) * 1e6 / throughput.received as f64
    } else {
        f64::NAN
    };
    let switches_per_event = if throughput.received > 0 {
        switches1.saturating_sub(switches0) as f64 / throughput.received as f64
    } else {
        f64::NAN
    };
    let peak_rss_kb = procfs::peak_rss_kb(pid).unwrap_or(0);
    let reconnects = (server.counters().sessions.load(Relaxed) - sessions_before).saturating_sub(1);
    session.stop();
    stop(child).await;
    Ok(EchoMeasure {
        throughput,
        cpu_us_per_event,
        switches_per_event,
        peak_rss_kb,
        latency,
        error: None,
        wall: Duration::ZERO,
        reconnects,
    })
}

// ---------------------------------------------------------------------------------------------
// Scale

/// One scale case: N connections in one process.
#[derive(Debug, Clone, Default)]
pub struct ScaleMeasure {
    pub label: String,
    pub n: usize,
    pub keepalive: String,
    pub connect_secs: f64,
    pub retries: u64,
    pub failed: u64,
    pub rate_limited: u64,
    pub rss_base_kb: u64,
    pub rss_kb: u64,
    pub idle_secs: f64,
    pub idle_cpu_pct: f64,
    pub pings_per_sec: f64,
    pub spread_events: usize,
    pub spread_rate: f64,
    pub spread_lost: usize,
    pub error: Option<String>,
}

impl ScaleMeasure {
    pub fn rss_per_conn_kib(&self) -> f64 {
        self.rss_kb.saturating_sub(self.rss_base_kb) as f64 / self.n.max(1) as f64
    }
}

/// A scale case to run.
#[derive(Debug, Clone)]
pub struct ScaleCase {
    pub ours: bool,
    pub n: usize,
    /// `None`: the client's default keepalive; `Some(secs)`: overridden.
    pub keepalive_secs: Option<u64>,
    pub idle: Duration,
}

pub async fn scale(settings: &Settings, program: &std::path::Path, cases: &[ScaleCase]) -> Vec<ScaleMeasure> {
    let mut out = Vec::new();
    for case in cases {
        let label = match (case.ours, case.keepalive_secs) {
            (true, None) => "ours (read)".to_owned(),
            (true, Some(_)) => "ours, pings off".to_owned(),
            (false, _) => "floor".to_owned(),
        };
        let mut m = scale_case(settings, program, case)
            .await
            .unwrap_or_else(|e| ScaleMeasure {
                error: Some(e),
                ..ScaleMeasure::default()
            });
        m.label = label;
        m.n = case.n;
        m.keepalive = match (case.ours, case.keepalive_secs) {
            (false, _) => "none".to_owned(),
            (true, None) => format!("{} s", rtm_core::DEFAULT_KEEPALIVE_INTERVAL.as_secs()),
            (true, Some(s)) => format!("{s} s"),
        };
        eprintln!(
            "  {:<16} N={:<6} connect {:>6.1} s  rss {:>7.1} MB ({:>6.1} KiB/conn)  idle cpu {:>5.2}%  pings {:>6.0}/s  spread {:>8.0} ev/s{}",
            m.label,
            m.n,
            m.connect_secs,
            m.rss_kb as f64 / 1024.0,
            m.rss_per_conn_kib(),
            m.idle_cpu_pct,
            m.pings_per_sec,
            m.spread_rate,
            m.error
                .as_ref()
                .map(|e| format!("  FAILED: {e}"))
                .unwrap_or_default()
        );
        out.push(m);
    }
    out
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<ChildStdout>>,
    timeout: Duration,
) -> Result<String, String> {
    match tokio::time::timeout(timeout, lines.next_line()).await {
        Ok(Ok(Some(line))) => Ok(line),
        Ok(Ok(None)) => Err("client exited".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

async fn scale_case(
    settings: &Settings,
    program: &std::path::Path,
    case: &ScaleCase,
) -> Result<ScaleMeasure, String> {
    let server = LoadServer::start(Some(settings.connect_rate))
        .await
        .map_err(|e| e.to_string())?;
    let kind = if case.ours { "scale-ours" } else { "scale-floor" };
    let log = log_path(
        settings,
        &format!("{kind}-{}-{}", case.n, case.keepalive_secs.unwrap_or(0)),
    );
    let mut cmd = Command::new(program);
    cmd.args([
        "client",
        kind,
        &case.n.to_string(),
        &settings.connect_rate.to_string(),
    ]);
    configure(&mut cmd, &server.api_url(), &log).map_err(|e| e.to_string())?;
    cmd.stdout(Stdio::piped());
    if let Some(secs) = case.keepalive_secs {
        cmd.env("BENCH_KEEPALIVE_SECS", secs.to_string());
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("no pid")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let result = async {
        next_line(&mut lines, Duration::from_secs(30)).await?;
        let rss_base_kb = procfs::rss_kb(pid).unwrap_or(0);
        let connect_budget =
            Duration::from_secs_f64(case.n as f64 / f64::from(settings.connect_rate) * 3.0 + 60.0);
        let line = next_line(&mut lines, connect_budget)
            .await
            .map_err(|e| format!("{e} ({})", tail(&log)))?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        let (connect_ms, retries, failed) = (field(2), field(3), field(4));
        let mut sessions = Vec::with_capacity(case.n);
        while sessions.len() < case.n {
            match server.next_session(Duration::from_secs(10)).await {
                Some(session) => sessions.push(session),
                None => break,
            }
        }
        // Settle: let every connection pass its first keepalive cycle.
        tokio::time::sleep(Duration::from_secs(if settings.smoke { 0 } else { 2 })).await;
        let pings =
            |s: &LoadServer| s.counters().json_pings.load(Relaxed) + s.counters().ws_pings.load(Relaxed);
        let (cpu0, pings0, t0) = (
            procfs::cpu_seconds(pid).unwrap_or(0.0),
            pings(&server),
            Instant::now(),
        );
        tokio::time::sleep(case.idle).await;
        let (cpu1, pings1, idle) = (
            procfs::cpu_seconds(pid).unwrap_or(0.0),
            pings(&server),
            t0.elapsed(),
        );
        let rss_kb = procfs::rss_kb(pid).unwrap_or(0);

        // Traffic spread across every connection.
        let per = settings.spread_events.div_ceil(sessions.len().max(1));
        let phases: Vec<std::sync::Arc<Phase>> = sessions.iter().map(|s| s.burst(per)).collect();
        for phase in &phases {
            phase
                .wait(Duration::from_secs(15), Duration::from_secs(120))
                .await;
        }
        let first = phases.iter().filter_map(|p| p.first_sent()).min();
        let last = phases.iter().filter_map(|p| p.last_received()).max();
        let received: usize = phases.iter().map(|p| p.result().received).sum();
        let total = per * sessions.len();
        let spread_rate = match (first, last) {
            (Some(f), Some(l)) if l > f => received as f64 / (l - f).as_secs_f64(),
            _ => 0.0,
        };
        for session in &sessions {
            session.stop();
        }
        Ok::<_, String>(ScaleMeasure {
            label: String::new(),
            n: case.n,
            keepalive: String::new(),
            connect_secs: connect_ms as f64 / 1000.0,
            retries,
            failed: failed + (case.n - sessions.len()) as u64,
            rate_limited: server.counters().rate_limited.load(Relaxed),
            rss_base_kb,
            rss_kb,
            idle_secs: idle.as_secs_f64(),
            idle_cpu_pct: (cpu1 - cpu0) / idle.as_secs_f64() * 100.0,
            pings_per_sec: (pings1 - pings0) as f64 / idle.as_secs_f64(),
            spread_events: total,
            spread_rate,
            spread_lost: total - received,
            error: None,
        })
    }
    .await;
    stop(child).await;
    result
}

// ---------------------------------------------------------------------------------------------
// Dispatch

/// One consumer of the dispatch scenario, over its runs.
#[derive(Debug, Clone)]
pub struct DispatchResults {
    pub key: &'static str,
    pub label: &'static str,
    /// CPU nanoseconds per event, per run.
    pub cpu_ns: Vec<f64>,
    /// Wall-clock events per second, per run.
    pub rate: Vec<f64>,
    pub errors: Vec<String>,
}

pub const DISPATCH_CONSUMERS: [(&str, &str); 3] = [
    ("drain", "read() loop, events dropped"),
    ("dispatch-trivial", "RtmDispatcher, trivial handler"),
    (
        "dispatch-sequential",
        "RtmDispatcher, trivial handler, Ordering::Sequential",
    ),
];

pub async fn dispatch(
    settings: &Settings,
    program: &std::path::Path,
) -> std::io::Result<Vec<DispatchResults>> {
    let server = LoadServer::start(None).await?;
    let mut results: Vec<DispatchResults> = DISPATCH_CONSUMERS
        .iter()
        .map(|&(key, label)| DispatchResults {
            key,
            label,
            cpu_ns: Vec::new(),
            rate: Vec::new(),
            errors: Vec::new(),
        })
        .collect();
    for run in 0..settings.runs {
        for result in &mut results {
            match dispatch_run(&server, settings, program, result.key, run).await {
                Ok((cpu_ns, rate)) => {
                    eprintln!(
                        "  [run {}/{}] {:<52} {:>7.0} ns/event CPU  {:>9.0} ev/s",
                        run + 1,
                        settings.runs,
                        result.label,
                        cpu_ns,
                        rate
                    );
                    result.cpu_ns.push(cpu_ns);
                    result.rate.push(rate);
                }
                Err(e) => {
                    eprintln!(
                        "  [run {}/{}] {:<52} FAILED: {e}",
                        run + 1,
                        settings.runs,
                        result.label
                    );
                    result.errors.push(e);
                }
            }
        }
    }
    Ok(results)
}

async fn dispatch_run(
    server: &LoadServer,
    settings: &Settings,
    program: &std::path::Path,
    kind: &str,
    run: usize,
) -> Result<(f64, f64), String> {
    server.discard_pending_sessions().await;
    let log = log_path(settings, &format!("dispatch-{kind}-{}", run + 1));
    let mut cmd = Command::new(program);
    cmd.args(["client", kind]);
    configure(&mut cmd, &server.api_url(), &log).map_err(|e| e.to_string())?;
    let child = cmd.spawn().map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("no pid")?;
    let Some(session) = server.next_session(Duration::from_secs(30)).await else {
        stop(child).await;
        return Err(format!("did not connect ({})", tail(&log)));
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let phase = session.sink(settings.dispatch_n);
    let done = phase
        .wait(Duration::from_secs(15), Duration::from_secs(300))
        .await;
    let cpu1 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    session.stop();
    stop(child).await;
    if !done {
        return Err("the end marker was not answered".into());
    }
    let result = phase.result();
    Ok(((cpu1 - cpu0) * 1e9 / settings.dispatch_n as f64, result.rate()))
}

// ---------------------------------------------------------------------------------------------
// Diagnostics: allocations and CPU per echoed event, multi-thread vs current-thread runtime

/// One diagnostic measurement.
#[derive(Debug, Clone)]
pub struct ProfileMeasure {
    pub label: &'static str,
    pub runtime: &'static str,
    pub allocs_per_event: f64,
    pub bytes_per_event: f64,
    pub cpu_us_per_event: f64,
    pub error: Option<String>,
}

pub const PROFILE_CLIENTS: [(&str, &str); 4] = [
    ("floor", "floor"),
    ("read-echo", "ours (read), echo_bot's loop"),
    ("dispatcher", "ours (dispatcher)"),
    ("dispatcher-ordered", "ours (dispatcher, per-channel)"),
];

pub async fn profile(
    settings: &Settings,
    alloc_bin: &std::path::Path,
) -> std::io::Result<Vec<ProfileMeasure>> {
    let server = LoadServer::start(None).await?;
    let mut out = Vec::new();
    for (kind, label) in PROFILE_CLIENTS {
        for runtime in ["multi", "current"] {
            let m = match profile_run(&server, settings, alloc_bin, kind, runtime).await {
                Ok((allocs, bytes, cpu_us)) => ProfileMeasure {
                    label,
                    runtime,
                    allocs_per_event: allocs,
                    bytes_per_event: bytes,
                    cpu_us_per_event: cpu_us,
                    error: None,
                },
                Err(e) => ProfileMeasure {
                    label,
                    runtime,
                    allocs_per_event: f64::NAN,
                    bytes_per_event: f64::NAN,
                    cpu_us_per_event: f64::NAN,
                    error: Some(e),
                },
            };
            eprintln!(
                "  {:<32} {:<8} {:>6.1} allocs/ev  {:>7.0} B/ev  {:>5.2} µs/ev CPU{}",
                m.label,
                m.runtime,
                m.allocs_per_event,
                m.bytes_per_event,
                m.cpu_us_per_event,
                m.error
                    .as_ref()
                    .map(|e| format!("  FAILED: {e}"))
                    .unwrap_or_default()
            );
            out.push(m);
        }
    }
    Ok(out)
}

async fn mark(
    stdin: &mut tokio::process::ChildStdin,
    lines: &mut tokio::io::Lines<BufReader<ChildStdout>>,
) -> Result<(f64, f64, f64), String> {
    use tokio::io::AsyncWriteExt;
    stdin.write_all(b"mark\n").await.map_err(|e| e.to_string())?;
    stdin.flush().await.map_err(|e| e.to_string())?;
    let line = next_line(lines, Duration::from_secs(10)).await?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    match v.as_slice() {
        [a, b, c] => Ok((*a, *b, *c)),
        _ => Err(format!("bad mark line `{line}`")),
    }
}

async fn profile_run(
    server: &LoadServer,
    settings: &Settings,
    alloc_bin: &std::path::Path,
    kind: &str,
    runtime: &str,
) -> Result<(f64, f64, f64), String> {
    server.discard_pending_sessions().await;
    let log = log_path(settings, &format!("profile-{kind}-{runtime}"));
    let mut cmd = Command::new(alloc_bin);
    cmd.arg(kind);
    configure(&mut cmd, &server.api_url(), &log).map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .env("BENCH_RUNTIME", runtime);
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let result = async {
        let session = server
            .next_session(Duration::from_secs(30))
            .await
            .ok_or("did not connect")?;
        // Warm up: a first burst (allocator pools, buffers, tables grow here, not below).
        let warm = session.burst(settings.profile_n / 4);
        warm.wait(Duration::from_secs(10), Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = mark(&mut stdin, &mut lines).await?;
        let phase = session.burst(settings.profile_n);
        let complete = phase.wait(Duration::from_secs(10), Duration::from_secs(60)).await;
        let after = mark(&mut stdin, &mut lines).await?;
        session.stop();
        if !complete {
            return Err(format!(
                "{} of {} echoes",
                phase.result().received,
                settings.profile_n
            ));
        }
        let n = settings.profile_n as f64;
        Ok((
            (after.0 - before.0) / n,
            (after.1 - before.1) / n,
            (after.2 - before.2) / n / 1000.0,
        ))
    }
    .await;
    stop(child).await;
    result
}

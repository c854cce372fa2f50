//! `rtm-bench`: throughput, latency, scale and dispatch benchmarks of rtm-core against the
//! bare-stack floor and the peer SDKs (issue 6).
//!
//! ```text
//! bench/setup-peers.sh                          # optional: Python and Node peers
//! cargo run --release -p rtm-bench -- all       # everything; writes BENCHMARKS.md + bench/throughput.svg
//! cargo run -p rtm-bench -- --smoke             # a few seconds, for CI; writes under target/rtm-bench/
//! ```
//!
//! `cargo run --release -p rtm-bench -- web` runs the Web API client scenario on its own
//! (`--smoke`, `--runs N`, `--no-write`).
//!
//! Options: `throughput` / `scale` / `dispatch` / `profile` / `instructions` / `socket` (run only
//! those; `instructions` needs valgrind), `--runs N`,
//! `--no-peers`, `--peers` (include them in smoke mode), `--clients floor,read,..` (only those),
//! `--events N` (throughput burst size), `--scale-n N` (one scale size),
//! `--echo-bot PATH` (skip building it), `--client-bin PATH` (run the internal clients from another
//! build), `--baseline DIR` (also count instructions for the `rtm-bench` and `echo_bot` in DIR),
//! `--no-write` (print only), `--output FILE` (instead of BENCHMARKS.md).

mod callgrind;
mod clients;
mod procfs;
mod report;
mod scenarios;
mod server;
mod socket_mode;
mod web;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use report::Report;
use scenarios::{ClientSpec, ScaleCase, Settings};

const USAGE: &str = "usage: rtm-bench [all|throughput|scale|dispatch|profile|instructions|socket]... [--smoke] [--runs N] \
                     [--no-peers] [--peers] [--clients KEY,..] [--events N] [--scale-n N] [--echo-bot PATH] [--client-bin PATH] \
                     [--baseline DIR] [--no-write] [--output FILE]";

#[derive(Debug, Default)]
struct Options {
    smoke: bool,
    runs: Option<usize>,
    peers: Option<bool>,
    echo_bot: Option<PathBuf>,
    write: bool,
    output: Option<PathBuf>,
    only: Option<Vec<String>>,
    events: Option<usize>,
    scale_n: Option<usize>,
    throughput: bool,
    scale: bool,
    dispatch: bool,
    profile: bool,
    socket: bool,
    instructions: bool,
    client_bin: Option<PathBuf>,
    baseline: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        write: true,
        ..Options::default()
    };
    let mut any = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "all" => {
                (o.throughput, o.scale, o.dispatch, o.profile, o.instructions, any) =
                    (true, true, true, true, true, true);
                o.socket = true;
            }
            "socket" => (o.socket, any) = (true, true),
            "profile" => (o.profile, any) = (true, true),
            "instructions" => (o.instructions, any) = (true, true),
            "--baseline" => o.baseline = Some(it.next().ok_or("--baseline needs a directory")?.into()),
            "--client-bin" => o.client_bin = Some(it.next().ok_or("--client-bin needs a path")?.into()),
            "throughput" | "latency" => (o.throughput, any) = (true, true),
            "scale" => (o.scale, any) = (true, true),
            "dispatch" => (o.dispatch, any) = (true, true),
            "--smoke" => o.smoke = true,
            "--runs" => {
                o.runs = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--runs needs N > 0")?,
                )
            }
            "--peers" => o.peers = Some(true),
            "--no-peers" => o.peers = Some(false),
            "--echo-bot" => o.echo_bot = Some(it.next().ok_or("--echo-bot needs a path")?.into()),
            "--no-write" => o.write = false,
            "--events" => {
                o.events = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--events needs N > 0")?,
                );
            }
            "--scale-n" => {
                o.scale_n = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--scale-n needs N > 0")?,
                );
            }
            "--clients" => {
                o.only = Some(
                    it.next()
                        .ok_or("--clients needs keys")?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                );
            }
            "--output" => o.output = Some(it.next().ok_or("--output needs a file")?.into()),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if !any {
        // Smoke mode (CI) leaves valgrind out unless asked for by name.
        (o.throughput, o.scale, o.dispatch, o.profile, o.instructions) = (true, true, true, true, !o.smoke);
        o.socket = true;
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("client") {
        let Some(kind) = args.get(1) else {
            eprintln!("usage: rtm-bench client KIND [ARGS]");
            return ExitCode::FAILURE;
        };
        raise_fd_limit();
        let result = if kind == "socket-floor" {
            socket_mode::run_floor()
        } else {
            clients::run(kind, &args[2..])
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rtm-bench client {kind}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some("web") {
        return web_main(&args[1..]);
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rtm-bench: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(harness(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtm-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `rtm-bench web [--smoke] [--runs N] [--no-write]`: the Web API overhead scenario, written
/// into its own section of BENCHMARKS.md (not in smoke mode).
fn web_main(args: &[String]) -> ExitCode {
    let smoke = args.iter().any(|a| a == "--smoke");
    let write = !smoke && !args.iter().any(|a| a == "--no-write");
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let doc = workspace_root().join("BENCHMARKS.md");
    match web::run(smoke, runs, write.then_some(doc.as_path())) {
        Ok(section) => {
            println!("{section}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rtm-bench web: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Raises the soft open-file limit to the hard limit; returns (before, after, hard).
fn raise_fd_limit() -> (u64, u64, u64) {
    let (before, hard) = rlimit::Resource::NOFILE.get().unwrap_or((0, 0));
    let after = rlimit::increase_nofile_limit(hard).unwrap_or(before);
    (before, after, hard)
}

fn command_output(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or_else(|| "?".into(), |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    vec![
        ("cores".into(), format!("{cores} ({model})")),
        ("memory".into(), mem_gib),
        ("kernel".into(), format!("Linux {kernel}")),
        (
            "rustc".into(),
            command_output("rustc", &["-V"], None).unwrap_or_else(|| "?".into()),
        ),
    ]
}

/// Builds a target of the workspace with the harness's own profile; returns the binary's path
/// (`relative` to the harness's own directory).
fn build(what: &str, args: &[&str], relative: &str) -> Result<PathBuf, String> {
    let release = !cfg!(debug_assertions);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--quiet"])
        .args(args);
    if release {
        cmd.arg("--release");
    }
    eprintln!("building {what} ({})", if release { "release" } else { "debug" });
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building {what} failed"));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.parent().ok_or("no exe dir")?.join(relative);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} not found after the build", path.display()))
    }
}

/// The peers that are installed (see bench/setup-peers.sh), with a note for each one that is not.
fn peers(notes: &mut Vec<String>) -> Vec<ClientSpec> {
    let mut specs = Vec::new();
    let dir = bench_dir();
    let python = dir.join(".venv/bin/python");
    let probe = "import slack_sdk.rtm_v2, slack_sdk.rtm, aiohttp, slack_sdk.version as v; print(v.__version__, aiohttp.__version__)";
    match python
        .exists()
        .then(|| command_output(python.to_str().unwrap_or(""), &["-c", probe], None))
        .flatten()
    {
        Some(versions) => {
            let (sdk, aiohttp) = versions.split_once(' ').unwrap_or((&versions, "?"));
            let py = command_output(python.to_str().unwrap_or(""), &["-V"], None).unwrap_or_default();
            notes.push(format!(
                "Python peers: slack_sdk {sdk} ({py}, aiohttp {aiohttp}), pointed at the load server with `base_url`. \
                 `rtm_v2.RTMClient` (threads; listeners on its default pool of 10 threads, `send()` does not wait \
                 for replies; it calls `auth.test` before connecting) and the asyncio `rtm.RTMClient` \
                 (`run_async=True`, aiohttp; replies arrive as `Unknown` events). Scripts: `bench/peers/`."
            ));
            for (key, label, script) in [
                ("py-rtm-v2", "python slack_sdk rtm_v2", "py_rtm_v2.py"),
                (
                    "py-rtm-async",
                    "python slack_sdk rtm (asyncio)",
                    "py_rtm_async.py",
                ),
            ] {
                specs.push(ClientSpec {
                    key,
                    label,
                    program: python.clone(),
                    args: vec![dir.join("peers").join(script).display().to_string()],
                    is_floor: false,
                    ours: false,
                });
            }
        }
        None => notes.push("Python peers not installed (run bench/setup-peers.sh): left out.".into()),
    }
    let node_dir = dir.join("node");
    let probe = "console.log(require('@slack/rtm-api/package.json').version)";
    match command_output("node", &["-e", probe], Some(&node_dir)) {
        Some(version) => {
            let node = command_output("node", &["--version"], None).unwrap_or_default();
            notes.push(format!(
                "Node peer: @slack/rtm-api {version} (node {node}), pointed at the load server with `slackApiUrl`. \
                 It echoes with `rtm.send('message', …)` (written at once); its `sendMessage()` queues sends with \
                 concurrency 1 and waits for each reply, so it cannot pipeline. Script: `bench/node/echo.js`."
            ));
            specs.push(ClientSpec {
                key: "node-rtm-api",
                label: "node @slack/rtm-api",
                program: "node".into(),
                args: vec![node_dir.join("echo.js").display().to_string()],
                is_floor: false,
                ours: false,
            });
        }
        None => notes.push("Node peer not installed (run bench/setup-peers.sh): left out.".into()),
    }
    specs
}

async fn harness(options: Options) -> Result<(), String> {
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let results_dir = target.join("rtm-bench");
    std::fs::create_dir_all(results_dir.join("logs")).map_err(|e| e.to_string())?;
    let mut settings = if options.smoke {
        Settings::smoke(results_dir.clone())
    } else {
        Settings::full(results_dir.clone())
    };
    if let Some(runs) = options.runs {
        settings.runs = runs;
    }
    if let Some(events) = options.events {
        settings.throughput_n = events;
    }
    if let Some(n) = options.scale_n {
        settings.scale_ns = vec![n];
    }
    let (fd_before, fd_after, fd_hard) = raise_fd_limit();
    let mut report = Report {
        machine: machine(),
        command: if options.smoke {
            "cargo run -p rtm-bench -- --smoke".into()
        } else {
            "bench/setup-peers.sh && cargo run --release -p rtm-bench -- all --runs 3".into()
        },
        ..Report::default()
    };
    let max_n = usize::try_from(fd_after.saturating_sub(256)).unwrap_or(usize::MAX);
    report.notes.push(format!(
        "Open-file limit: soft {fd_before}, hard {fd_hard}; the harness raised the soft limit to {fd_after} \
         (the client processes inherit it); the largest N is {}.",
        settings.scale_ns.iter().copied().max().unwrap_or(0).min(max_n)
    ));
    for n in &mut settings.scale_ns {
        *n = (*n).min(max_n);
    }
    eprintln!(
        "rtm-bench ({}): results and client logs in {}",
        if options.smoke { "smoke" } else { "full" },
        results_dir.display()
    );
    let me = match &options.client_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|e| e.to_string())?,
    };
    let echo_bot = if options.throughput || options.instructions {
        match &options.echo_bot {
            Some(path) => path.clone(),
            None => build(
                "examples/echo_bot",
                &["-p", "rtm-examples", "--example", "echo_bot"],
                "examples/echo_bot",
            )?,
        }
    } else {
        PathBuf::new()
    };

    if options.throughput {
        let echo_bot = echo_bot.clone();
        let internal = |key, label, kind: &str, is_floor, ours| ClientSpec {
            key,
            label,
            program: me.clone(),
            args: vec!["client".into(), kind.into()],
            is_floor,
            ours,
        };
        let mut clients = vec![
            internal("floor", "floor (bare stack)", "floor", true, false),
            ClientSpec {
                key: "read",
                label: "ours (read), echo_bot",
                program: echo_bot,
                args: Vec::new(),
                is_floor: false,
                ours: true,
            },
            internal("dispatcher", "ours (dispatcher)", "dispatcher", false, true),
            internal(
                "dispatcher-ordered",
                "ours (dispatcher, per-channel)",
                "dispatcher-ordered",
                false,
                true,
            ),
        ];
        if options.peers.unwrap_or(!options.smoke) {
            clients.extend(peers(&mut report.notes));
        } else {
            report
                .notes
                .push("Peers skipped in this mode (`--peers` includes them).".into());
        }
        if let Some(only) = &options.only {
            if only.iter().any(|k| k == "read-echo") {
                // Diagnostics: echo_bot's loop inside the harness, which honours BENCH_* overrides.
                clients.push(internal(
                    "read-echo",
                    "ours (read), in-harness loop",
                    "read-echo",
                    false,
                    true,
                ));
            }
            clients.retain(|c| only.iter().any(|k| k == c.key));
        }
        eprintln!(
            "== throughput and latency ({} clients, {} run(s))",
            clients.len(),
            settings.runs
        );
        report.echo = scenarios::echo(&settings, &clients)
            .await
            .map_err(|e| e.to_string())?;
    }
    if options.scale {
        let big = settings.scale_ns.iter().copied().max().unwrap_or(1);
        let mut cases: Vec<ScaleCase> = settings
            .scale_ns
            .iter()
            .map(|&n| ScaleCase {
                ours: true,
                n,
                keepalive_secs: None,
                idle: if n == big {
                    settings.idle_long
                } else {
                    settings.idle_short
                },
            })
            .collect();
        cases.push(ScaleCase {
            ours: true,
            n: big,
            keepalive_secs: Some(3600),
            idle: settings.idle_long,
        });
        cases.push(ScaleCase {
            ours: false,
            n: big,
            keepalive_secs: None,
            idle: settings.idle_short,
        });
        eprintln!(
            "== scale ({} cases, connect rate {}/s)",
            cases.len(),
            settings.connect_rate
        );
        report.scale = scenarios::scale(&settings, &me, &cases).await;
    }
    if options.dispatch {
        eprintln!(
            "== dispatch ({} events, {} run(s))",
            settings.dispatch_n, settings.runs
        );
        report.dispatch = scenarios::dispatch(&settings, &me)
            .await
            .map_err(|e| e.to_string())?;
    }

    if options.profile {
        let alloc_bin = build(
            "rtm-bench-alloc",
            &["-p", "rtm-bench", "--bin", "rtm-bench-alloc"],
            "rtm-bench-alloc",
        )?;
        eprintln!(
            "== diagnostics: allocations and CPU per echoed event ({} events)",
            settings.profile_n
        );
        report.profile = scenarios::profile(&settings, &alloc_bin)
            .await
            .map_err(|e| e.to_string())?;
    }

    if options.socket {
        let bot = build(
            "examples/socket_echo_bot",
            &["-p", "rtm-examples", "--example", "socket_echo_bot"],
            "examples/socket_echo_bot",
        )?;
        let mut clients = vec![
            ClientSpec {
                key: "socket-floor",
                label: "floor (bare stack)",
                program: me.clone(),
                args: vec!["client".into(), "socket-floor".into()],
                is_floor: true,
                ours: false,
            },
            ClientSpec {
                key: "socket-echo-bot",
                label: "ours, socket_echo_bot",
                program: bot,
                args: Vec::new(),
                is_floor: false,
                ours: true,
            },
        ];
        if let Some(only) = &options.only {
            clients.retain(|c| only.iter().any(|k| k == c.key));
        }
        eprintln!(
            "== socket mode echo ({} envelopes, {} run(s))",
            socket_mode::burst_n(&settings),
            settings.runs
        );
        report.socket = socket_mode::run(&settings, &clients)
            .await
            .map_err(|e| e.to_string())?;
    }

    if options.instructions {
        if callgrind::available() {
            eprintln!(
                "== instructions per event under callgrind ({} events after a warm-up)",
                settings.instr_n
            );
            report.instructions = callgrind::run(&settings, &me, &echo_bot, options.only.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            if let Some(dir) = &options.baseline {
                eprintln!("== the same for the baseline in {}", dir.display());
                report.instructions_baseline = callgrind::run(
                    &settings,
                    &dir.join("rtm-bench"),
                    &dir.join("echo_bot"),
                    options.only.as_deref(),
                )
                .await
                .map_err(|e| e.to_string())?;
            }
        } else {
            report
                .notes
                .push("valgrind (callgrind) is not installed: instruction counts left out.".into());
        }
    }

    let (doc, svg) = match (&options.output, options.smoke) {
        (Some(path), _) => (path.clone(), path.with_extension("svg")),
        (None, false) => (root.join("BENCHMARKS.md"), bench_dir().join("throughput.svg")),
        (None, true) => (
            results_dir.join("BENCHMARKS.smoke.md"),
            results_dir.join("throughput.smoke.svg"),
        ),
    };
    if !report.echo.is_empty() {
        report.svg_path = Some(match doc.parent().and_then(|d| svg.strip_prefix(d).ok()) {
            Some(relative) => relative.display().to_string(),
            None => svg.display().to_string(),
        });
    }
    let section = report.markdown(&settings);
    println!("{section}");
    if options.write {
        if !report.echo.is_empty() {
            std::fs::write(&svg, report.svg(&settings)).map_err(|e| format!("{}: {e}", svg.display()))?;
        }
        let existing = std::fs::read_to_string(&doc).unwrap_or_default();
        std::fs::write(&doc, report::splice(&existing, &section))
            .map_err(|e| format!("{}: {e}", doc.display()))?;
        eprintln!("wrote {} and {}", doc.display(), svg.display());
    }
    if options.smoke {
        smoke_check(&report)?;
    }
    Ok(())
}

/// In smoke mode (CI), our clients and the floor must work: every session connects, every echo
/// comes back exactly once, every scale connection opens, every dispatch consumer finishes.
/// Figures are never checked (no timing assertions).
fn smoke_check(report: &Report) -> Result<(), String> {
    let mut failures = Vec::new();
    for r in report.echo.iter().filter(|r| r.spec.ours || r.spec.is_floor) {
        for m in &r.runs {
            let lost: usize = m.latency.iter().map(|l| l.lost() + l.duplicates as usize).sum();
            if let Some(e) = &m.error {
                failures.push(format!("{}: {e}", r.spec.label));
            } else if !m.throughput.completed || m.throughput.duplicates > 0 || lost > 0 {
                failures.push(format!(
                    "{}: lost {} / duplicated {} echoes",
                    r.spec.label,
                    m.throughput.lost() + m.latency.iter().map(|l| l.lost()).sum::<usize>(),
                    m.throughput.duplicates + m.latency.iter().map(|l| l.duplicates).sum::<u64>()
                ));
            }
        }
    }
    for m in &report.scale {
        match &m.error {
            Some(e) => failures.push(format!("scale {} N={}: {e}", m.label, m.n)),
            None if m.failed > 0 || m.spread_lost > 0 => {
                failures.push(format!(
                    "scale {} N={}: {} failed connections, {} lost",
                    m.label, m.n, m.failed, m.spread_lost
                ));
            }
            None => {}
        }
    }
    for d in &report.dispatch {
        if let Some(e) = d.errors.first() {
            failures.push(format!("dispatch {}: {e}", d.label));
        }
    }
    for p in &report.profile {
        if let Some(e) = &p.error {
            failures.push(format!("profile {} ({}): {e}", p.label, p.runtime));
        }
    }
    failures.extend(socket_mode::smoke_failures(&report.socket));
    if failures.is_empty() {
        eprintln!("smoke check passed");
        Ok(())
    } else {
        Err(format!("smoke check failed: {}", failures.join("; ")))
    }
}

//! Instruction counts per event, from valgrind's callgrind: repeatable where wall-clock and
//! CPU time are not (a shared 2-core machine). Each client runs under callgrind; after a
//! warm-up burst the counters are zeroed (`callgrind_control -z`), a measured burst runs, and
//! the counters are dumped (`callgrind_control -d`). The dump gives instructions per event for
//! the whole process (every thread) and the functions that executed most of them.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

use crate::{
    scenarios::{Settings, configure, log_path, stop, tail},
    server::LoadServer,
};

/// One client measured under callgrind.
#[derive(Debug, Clone)]
pub struct InstrMeasure {
    pub key: &'static str,
    pub label: &'static str,
    /// Events in the measured burst.
    pub events: usize,
    /// Instructions executed by the whole process per event.
    pub ir_per_event: f64,
    /// Every function's own instructions per event, most first: (instructions, name).
    pub top: Vec<(f64, String)>,
    pub error: Option<String>,
}

/// How a client is measured: echoing a burst, or draining a burst and answering its end marker.
#[derive(Debug, Clone, Copy)]
enum Load {
    Echo,
    Sink,
}

/// The clients measured, with the internal client kind (`None`: the echo_bot binary).
pub const INSTR_CLIENTS: [(&str, &str, Option<&str>); 6] = [
    ("floor", "floor (bare stack)", Some("floor")),
    ("read", "ours (read), echo_bot", None),
    ("dispatcher", "ours (dispatcher)", Some("dispatcher")),
    (
        "dispatcher-ordered",
        "ours (dispatcher, per-channel)",
        Some("dispatcher-ordered"),
    ),
    ("drain", "read() loop, events dropped", Some("drain")),
    (
        "dispatch-trivial",
        "RtmDispatcher, trivial handler",
        Some("dispatch-trivial"),
    ),
];

/// Whether valgrind and callgrind_control are installed.
pub fn available() -> bool {
    ["valgrind", "callgrind_control"].iter().all(|tool| {
        std::process::Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// Measures every client in `only` (all when `None`). `bench` runs the internal clients,
/// `echo_bot` is the read client.
pub async fn run(
    settings: &Settings,
    bench: &Path,
    echo_bot: &Path,
    only: Option<&[String]>,
) -> std::io::Result<Vec<InstrMeasure>> {
    let server = LoadServer::start(None).await?;
    let mut out = Vec::new();
    for (key, label, kind) in INSTR_CLIENTS {
        if only.is_some_and(|only| !only.iter().any(|k| k == key)) {
            continue;
        }
        let (program, args, load) = match kind {
            None => (echo_bot.to_path_buf(), Vec::new(), Load::Echo),
            Some(kind) => (
                bench.to_path_buf(),
                vec!["client".to_owned(), kind.to_owned()],
                if matches!(kind, "drain" | "dispatch-trivial") {
                    Load::Sink
                } else {
                    Load::Echo
                },
            ),
        };
        let events = settings.instr_n;
        let m = match measure(&server, settings, key, &program, &args, load, events).await {
            Ok((ir, top)) => InstrMeasure {
                key,
                label,
                events,
                ir_per_event: ir as f64 / events as f64,
                top: top
                    .into_iter()
                    .map(|(ir, name)| (ir as f64 / events as f64, shorten(&name)))
                    .collect(),
                error: None,
            },
            Err(e) => InstrMeasure {
                key,
                label,
                events,
                ir_per_event: f64::NAN,
                top: Vec::new(),
                error: Some(e),
            },
        };
        eprintln!(
            "  {:<32} {:>9.0} instructions/event{}",
            m.label,
            m.ir_per_event,
            m.error
                .as_ref()
                .map(|e| format!("  FAILED: {e}"))
                .unwrap_or_default()
        );
        for (ir, name) in m.top.iter().take(6) {
            eprintln!("      {ir:>8.0}  {name}");
        }
        out.push(m);
    }
    Ok(out)
}

async fn control(flag: &str, pid: u32) -> Result<(), String> {
    let status = Command::new("callgrind_control")
        .args([flag, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("callgrind_control {flag} failed"))
    }
}

async fn measure(
    server: &LoadServer,
    settings: &Settings,
    key: &str,
    program: &Path,
    args: &[String],
    load: Load,
    events: usize,
) -> Result<(u64, Vec<(u64, String)>), String> {
    server.discard_pending_sessions().await;
    let dir = settings.results_dir.join("callgrind");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out_file = dir.join(format!("callgrind.{key}.out"));
    for stale in dumps(&out_file) {
        let _ = std::fs::remove_file(stale);
    }
    let _ = std::fs::remove_file(&out_file);
    let log = log_path(settings, &format!("callgrind-{key}"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .args(["--compress-strings=no", "--compress-pos=no"])
        .arg(program)
        .args(args);
    configure(&mut cmd, &server.api_url(), &log).map_err(|e| e.to_string())?;
    let child = cmd.spawn().map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("no pid")?;
    let result = async {
        let session = server
            .next_session(Duration::from_secs(120))
            .await
            .ok_or_else(|| format!("did not connect ({})", tail(&log)))?;
        let (stall, max) = (Duration::from_secs(60), Duration::from_secs(600));
        let phase = |n| match load {
            Load::Echo => session.burst(n),
            Load::Sink => session.sink(n),
        };
        // Warm-up: buffers, tables and allocator pools grow here, not in the measured burst.
        if !phase((events / 4).max(1)).wait(stall, max).await {
            return Err("the warm-up burst did not complete".to_owned());
        }
        // Likewise before zeroing: the warm-up's last replies are not the measured burst's.
        tokio::time::sleep(Duration::from_secs(3)).await;
        control("-z", pid).await?;
        let measured = phase(events);
        let complete = measured.wait(stall, max).await;
        // Let the replies to the last echoes (queued behind the burst) be handled too, so
        // every event is counted with its reply; an idle client costs next to nothing here.
        tokio::time::sleep(Duration::from_secs(3)).await;
        control("-d", pid).await?;
        session.stop();
        if !complete {
            return Err(format!("{} of {events} events", measured.result().received));
        }
        Ok(())
    }
    .await;
    stop(child).await;
    result?;
    let dump = dumps(&out_file)
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .ok_or("no callgrind dump")?;
    parse_dump(&dump)
}

/// The dump files callgrind wrote next to `out_file` (`<out_file>.<n>`).
fn dumps(out_file: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (out_file.parent(), out_file.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", name.to_string_lossy());
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The total and every function's own instructions (exclusive: calls excluded), most first,
/// read straight from the dump. (`callgrind_annotate` charges a zeroed run's totals to the
/// thread entry points, so it is not used.)
fn parse_dump(dump: &Path) -> Result<(u64, Vec<(u64, String)>), String> {
    let text = std::fs::read_to_string(dump).map_err(|e| e.to_string())?;
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or("no total in the dump")?;
    let mut own: HashMap<String, u64> = HashMap::new();
    let mut current = String::new();
    // The cost line right after `calls=` is the call's inclusive cost, not the caller's own.
    let mut after_call = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("fn=") {
            current = name.to_owned();
        } else if line.starts_with("calls=") {
            after_call = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '*')) {
            if std::mem::take(&mut after_call) {
                continue;
            }
            if let Some(cost) = line.split_whitespace().nth(1).and_then(|c| c.parse::<u64>().ok()) {
                *own.entry(current.clone()).or_default() += cost;
            }
        }
    }
    let mut top: Vec<(u64, String)> = own.into_iter().map(|(name, ir)| (ir, name)).collect();
    top.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok((total, top))
}

/// Where a function's instructions belong, for the summary.
pub fn category(function: &str) -> &'static str {
    let f = function.trim_start_matches('<');
    if f.starts_with("serde_json")
        || f.starts_with("&mut serde_json")
        || f.starts_with("serde_core")
        || f.starts_with("serde::")
    {
        "JSON (serde_json)"
    } else if f.starts_with("tungstenite") || f.starts_with("tokio_tungstenite") {
        "websocket (tungstenite)"
    } else if f.starts_with("tokio::") || f.starts_with("futures") || f.starts_with("mio::") {
        "async runtime (tokio, futures)"
    } else if f.starts_with("rtm_core::dispatcher") {
        "rtm-core dispatcher"
    } else if f.starts_with("rtm_core") {
        "rtm-core connection and client"
    } else if [
        "malloc",
        "free",
        "_int_",
        "realloc",
        "__rust",
        "__rdl",
        "unlink_chunk",
        "alloc::",
    ]
    .iter()
    .any(|p| f.starts_with(p))
        || f.contains("malloc")
    {
        "allocator"
    } else if f.starts_with("__mem") || f.starts_with("core::str") {
        "memcpy, memset, UTF-8 checks"
    } else if f.starts_with("tracing") {
        "tracing"
    } else {
        "other"
    }
}

/// A symbol without its hash, cut to a readable length.
fn shorten(name: &str) -> String {
    let name = match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => head,
        _ => name,
    };
    if name.chars().count() > 110 {
        format!("{}…", name.chars().take(110).collect::<String>())
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_costs_leave_out_calls_and_sum_per_function() {
        let dir = std::env::temp_dir().join(format!("rtm-bench-callgrind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dump = dir.join("dump");
        std::fs::write(
            &dump,
            "events: Ir\nsummary: 100\nfn=main\n1 10\ncfn=serde_json::parse\ncalls=1 0\n2 80\n+1 5\nfn=serde_json::parse\n3 80\n",
        )
        .unwrap();
        let (total, top) = parse_dump(&dump).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(total, 100);
        assert_eq!(
            top,
            vec![(80, "serde_json::parse".to_owned()), (15, "main".to_owned())]
        );
        assert_eq!(
            category("<serde_json::read::SliceRead as Read>::parse_str"),
            "JSON (serde_json)"
        );
        assert_eq!(category("_int_malloc"), "allocator");
    }

    #[test]
    fn names_lose_their_hash_and_length() {
        assert_eq!(
            shorten("tokio::runtime::scheduler::multi_thread::worker::Context::park::h0123456789abcdef"),
            "tokio::runtime::scheduler::multi_thread::worker::Context::park"
        );
        assert_eq!(shorten("memcpy"), "memcpy");
        assert!(shorten(&"x".repeat(200)).ends_with('…'));
    }
}

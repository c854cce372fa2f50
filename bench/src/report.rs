//! The report: markdown tables (printed, and spliced into BENCHMARKS.md between markers) and
//! the throughput chart as plain SVG text.

use std::fmt::Write as _;

use crate::scenarios::{DispatchResults, EchoMeasure, EchoResults, ProfileMeasure, ScaleMeasure, Settings};

pub const BEGIN: &str = "<!-- bench:begin -->";
pub const END: &str = "<!-- bench:end -->";

/// Everything a report is made of.
#[derive(Debug, Default)]
pub struct Report {
    pub machine: Vec<(String, String)>,
    pub command: String,
    pub notes: Vec<String>,
    pub echo: Vec<EchoResults>,
    pub scale: Vec<ScaleMeasure>,
    pub dispatch: Vec<DispatchResults>,
    pub profile: Vec<ProfileMeasure>,
    /// The Socket Mode echo scenario.
    pub socket: Vec<crate::socket_mode::SmResults>,
    pub instructions: Vec<crate::callgrind::InstrMeasure>,
    /// The same measurement of a baseline build (`--baseline DIR`), when given.
    pub instructions_baseline: Vec<crate::callgrind::InstrMeasure>,
    pub svg_path: Option<String>,
}

/// Median of the finite values; NaN when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

pub(crate) fn ratio(value: f64, floor: f64) -> String {
    if value.is_finite() && floor.is_finite() && floor > 0.0 {
        format!("{:.2}×", value / floor)
    } else {
        "–".into()
    }
}

pub(crate) fn num(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let s = format!("{value:.decimals$}");
    // Thousands separators for the integer part.
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Issue 13's changes, with what each bought. The instruction counts are from the callgrind
/// section above, run at the commit that made the change against the one before it
/// (`rtm-bench instructions --baseline DIR`, DIR holding the earlier build's `rtm-bench` and
/// `echo_bot`); they are kept here because one run cannot measure code that is gone.
const CHANGES: &[(&str, &str, &str)] = &[
    (
        "A handler call is polled once where the dispatcher starts it; it gets a task (Concurrent) or its lane's \
         queue and task (PerChannel, Sequential) only if that poll returns `Pending`. A lane is idle when \
         nothing of it is queued or running, so a call started there is still behind every earlier call of \
         its channel.",
        "`dispatcher/tasks.rs`",
        "dispatch overhead with a trivial handler: 5,500–5,700 → 2,350–2,380 instructions per event (trivial \
         handler 13,009–13,037 → 8,691–8,718); about 730 → 180–250 ns of CPU per event. A call that does not \
         wait costs no task, no scheduling and no wake-up. The echo handlers await their reply (Concurrent) or \
         spawn its check (PerChannel), so they gain less: Concurrent 36,291–36,591 → 34,695–35,102, \
         PerChannel 33,072–33,272 → 30,734–30,977 instructions per event (with the lane keys below).",
    ),
    (
        "PerChannel and Sequential lanes are found by the event's channel id as borrowed from it, in a small \
         sorted map; a key is copied only when its lane is created.",
        "`dispatcher/tasks.rs`, `dispatcher/mod.rs` (run loop, two lines)",
        "two copies of the channel id (allocations) and a SipHash of it (114 instructions) less per \
         PerChannel event; counted in the PerChannel figure above.",
    ),
    (
        "A connection task wakes the reader once per burst of frames that already arrived, at the burst's end \
         (on every way out), and only if the burst found the buffer empty; events are readable at once, only \
         the wake-up waits. Each socket owes its own wake-up: a first version shared one flag between Socket \
         Mode's sockets and could leave the reader asleep on a full buffer (fixed, with a test).",
        "`inbox.rs`, `connection/session.rs`",
        "`read()` loop that drops events: 7,313–7,526 → 6,338–6,346 instructions per event; the reader takes \
         a burst in one batch instead of waking for its first event, again and again.",
    ),
    (
        "Replies awaited in a queue ordered by id (ids only grow, Slack answers about in order) instead of a \
         `BTreeMap`: registering appends, the usual reply takes the front, a reply out of order leaves a gap \
         found by binary search.",
        "`connection/replies.rs`",
        "`Replies::insert` 355–384 → 57 instructions per send, `resolve` 126 → 61; no tree node allocated \
         per send in flight.",
    ),
    (
        "An outgoing frame stays bytes until its id is written in place, and is checked as UTF-8 once, \
         instead of being checked when queued and then spliced (`String::replace_range`) when written.",
        "`outgoing.rs`",
        "about 470 instructions less per send (`Splice::drop` 366 → 0, `from_utf8` 565 → 454).",
    ),
    (
        "The harness counts instructions per event under callgrind (profile summary by category, top \
         functions, `--baseline` for a before/after), thread switches per event, and reports issue 13's \
         targets with their range over the runs.",
        "`bench/`",
        "repeatable figures on a shared machine. Together: echo_bot 22,663–22,694 → 21,336–21,379 \
         instructions per event, 1.83× → 1.73× the floor's 12,368–12,382.",
    ),
    (
        "Socket Mode posts: the Web API client keeps at most 64 requests on the wire (`max_in_flight`; each \
         HTTP/1.1 request in flight held a connection of its own, so a burst opened thousands); the \
         per-channel `chat.postMessage` pacer looks for idle buckets to drop only when its map has doubled, \
         not on every post to a new channel; `SocketModeClient::post_message` builds its `Reply` without a \
         JSON round trip and reads only `ts` and `text`; JSON bodies are serialised without cloning the \
         argument map and shared across retries.",
        "`web/client.rs`, `web/limits.rs`, `socket_mode.rs`, `web/body.rs`",
        "Socket Mode echo (20,000 envelopes over 10,000 channels), same-run ratios to its floor, medians of 3 \
         runs: throughput 0.28× → 0.91×, CPU per event 3.95× → 1.32×, peak RSS 355 → 98 MB. `perf` had put \
         ~15 % of socket_echo_bot's CPU in `HashMap::retain`: with every channel busy nothing could be \
         dropped, so each new channel scanned them all.",
    ),
    (
        "Idle connections: keepalive checks fall on a grid shared by every connection of the process (a \
         twentieth of the interval), so thousands of idle connections are probed and answered in a few \
         batches a second; the websocket is boxed, so the driver's future, resident for the life of every \
         connection, no longer holds a copy of it (1.4 KB) for each state that moves it.",
        "`connection/keepalive.rs`, `connection/dial.rs`",
        "10,000 idle connections (`rtm-bench scale --scale-n 10000`, one run each): idle CPU 9.67 % → \
         4.2–4.7 % of a core; RSS per connection 32.9 → 22.1 KiB (the driver's future 13,312 → 2,304 bytes).",
    ),
    (
        "The classifier also locates a plain-string `channel` while it peeks `type` (an `Event` stays 64 \
         bytes: locations are 8-byte values with a niche, and the rare escaped-name path puts the names in \
         front of the JSON); `Context::channel` reads it instead of parsing the event again and copying the id.",
        "`event/envelope.rs`, `event/mod.rs`, `dispatcher/context.rs`",
        "one JSON scan and one allocation less per handled event that has a channel: dispatcher 34,891 → \
         29,534 instructions per event, per-channel 31,177 → 26,295 (JSON 17,605 → 13,040).",
    ),
    (
        "Concurrent calls of one batch that have to wait share a task (up to 16, each still woken alone by \
         its own reply); a started call is an `Unpin` future holding the handler's boxed future (no second \
         box); a `Context` is no longer behind an `Arc` of its own.",
        "`dispatcher/tasks.rs`, `dispatcher/context.rs`",
        "dispatcher 29,534 → 27,141 instructions per event (allocator 4,824 → 3,355; with the channel \
         change, 35,022 → 27,141, −23 %); thread switches 0.30 → 0.21 per event; two 2-run throughput runs \
         a quarter of an hour apart (the build before these three changes, then after): 9.55 → 6.55 µs of \
         CPU per event, 10.6× → 7.7× the floor of the same run. `perf` of the dispatcher under the \
         burst: half its CPU in the kernel, ~12 % in glibc malloc's arena lock (allocations made on the \
         reader's thread and freed on another).",
    ),
    (
        "The dispatcher's per-call `rtm_handler` span is at `DEBUG` (per-request spans usually are): at \
         `INFO`, a subscriber that records spans (the examples' default filter, `warn,rtm_core=info`) \
         paid for one per event.",
        "`dispatcher/tasks.rs`",
        "`dispatcher_echo_bot` as shipped, with its default logging (`rtm-bench throughput --echo-bot \
         target/release/examples/dispatcher_echo_bot`, single runs): 10.5 → 7.3–7.4 µs of CPU per event, \
         115,000 → 151,000–153,000 events/s. The harness's own dispatcher clients install no subscriber, \
         so the tables above do not show it.",
    ),
    (
        "A connection's websocket read buffer is 2 KiB (was 8 KiB). tungstenite zeroes the part of it \
         a read goes into before every read, and every poll of the socket is a read (an idle connection \
         polls it about five times per keepalive probe and answer); with thousands of connections those \
         cache lines are cold: `perf` of 10,000 idle connections put 11–13 % of their CPU in that \
         `memset`.",
        "`connection/dial.rs`",
        "10,000 idle connections, client CPU over 20 s of the idle window (`perf stat`), three runs each, \
         alternated: 5.14–5.91 % → 4.66–5.03 % of a core; RSS 227 → 187 MB (4 KiB less per \
         connection). echo_bot, 100,000-event burst, 4 runs each alternated: 4.9–5.4 against 5.0–5.7 µs \
         of CPU per event, 211,000–238,000 against 213,000–240,000 events/s, p99 at 200 and 2,000 \
         events/s equal within noise (medians of 3 runs 0.47/0.47 ms against 0.46/0.67 ms); \
         instructions per event 21,425 → 21,120 (echo_bot), 27,165 → 26,673 (dispatcher).",
    ),
    (
        "A reply is scanned once: while the classifier peeks `reply_to` it also locates `ts`, `text` \
         and `error` (as raw, borrowed JSON values: no allocation, no unescaping), and the reply slot \
         carries the frame with those locations; the waiting `ReplyFuture` builds its `Reply` from \
         those few values instead of parsing the whole frame a second time. A value of the wrong type \
         is still a typed `SendError::MalformedReply`, which now names the field.",
        "`event/envelope.rs`, `reply.rs`",
        "instructions per event, `rtm-bench instructions --baseline` (the previous build, same run): \
         echo_bot 21,111 → 20,671 (−2.1 %; 1.72× → 1.67× the floor), dispatcher 26,723 → 26,253 \
         (−1.8 %). echo_bot's 100,000-event burst, two 2-run throughput passes each, alternated: \
         0.54×/0.55× → 0.59×/0.65× the floor's events/s and 2.26×/2.67× → 2.18×/2.17× its CPU per \
         event, within this machine's run-to-run noise. It cost events: the `read()` loop that drops \
         events went 6,175–6,185 → 6,548–6,588 instructions per event, because every event now \
         located its own `ts` and `text` and matched every key against three more names (the next \
         row).",
    ),
    (
        "The peek reads a frame's keys with a visitor of its own: once a frame has shown a `type` \
         other than `pong` and neither `ok` nor `reply_to`, its `ts`, `text` and `error` are skipped, \
         not located (Slack writes `type` first); a frame that still turns out to be a reply after \
         skipping one is scanned again for them, so a reply never loses a field (tested). An array \
         frame is no longer read as an event (the derived peek took `[\"message\"]` for one; \
         tested), and a field the peek reads, given twice, is still malformed.",
        "`event/envelope.rs`",
        "instructions per event, `rtm-bench instructions --baseline` (the previous build, same run): \
         `read()` loop that drops events 6,547 → 6,380 (−2.6 %; the build before the reply scan: \
         6,183), echo_bot 20,494 → 20,431, dispatcher 25,915 → 25,773, per-channel 25,215 → 25,064. \
         What is left of the +3 % against the build before the reply scan is the key match against \
         eight names instead of five (`Key::of`, 130 instructions per event) and the larger frame \
         value a reply made (`memcpy`, +45).",
    ),
    (
        "A send in flight is smaller: the error a reply slot may carry is boxed (a `SendError` is \
         120 bytes, a located reply 72), and so is the value of a `ReplyFuture` that is known at \
         once (an error or a test double's reply), so the usual waiting future is 16 bytes instead \
         of 120. A test pins both sizes.",
        "`reply.rs`",
        "echo_bot's 100,000-event burst, which holds 16,000 or more echoes awaiting replies at its \
         peak: peak RSS 19.9–32.6 MB (median of 6 runs 25.1) → 15.9–25.9 MB (median 18.1), 3 × 2 runs \
         alternated with the previous build; events/s and CPU per event alike (229,000–366,000 \
         against 226,000–298,000; 3.3–4.7 against 3.6–4.7 µs).",
    ),
    (
        "A Web API call that waits for a request slot (beyond `max_in_flight`) no longer holds room \
         for the HTTP exchange it has not started: the exchange is boxed once the slot is held, so a \
         `chat.postMessage` call's future is 600 bytes instead of 1,176 (a test pins it). Under a \
         Socket Mode burst thousands of posts wait there at once.",
        "`web/client.rs`",
        "`socket_echo_bot`, 20,000 envelopes (`rtm-bench socket --clients socket-echo-bot`, 3 runs of \
         the new build, 3 of the previous, 2 of the new again): peak RSS 95.0–97.9 → 74.8–75.7 MB, \
         13,600–16,700 → 20,100–24,200 events/s, 80.5–84.0 → 61.0–70.5 µs of CPU per event.",
    ),
    (
        "A Web API call is encoded before it waits: the body and (for `chat.postMessage`) the \
         channel it is paced by are all a waiting call holds. Before, each call kept its arguments \
         as a JSON map (a B-tree node of about 600 bytes plus a string per key and value) and a \
         `SocketModeClient` post kept its `PostMessage` too, until the answer came; the URL is \
         built once the request slot is held.",
        "`web/client.rs`, `web/body.rs`, `web/methods.rs`",
        "`socket_echo_bot`, 20,000 envelopes (`rtm-bench socket --clients socket-echo-bot`, one run \
         each, alternated: new, previous, new, previous, previous, new): peak RSS 75.1–75.9 → \
         47.8–48.9 MB; events/s and CPU per event within this machine's noise (18,600–28,400 \
         against 16,300–26,200; 51–78 against 54.5–89.5 µs).",
    ),
];

fn changes(w: &mut String) {
    let _ = writeln!(w, "### What changed in issue 13 and what it bought\n");
    let _ = writeln!(w, "| change | where | what it bought |");
    let _ = writeln!(w, "|---|---|---|");
    for (change, place, effect) in CHANGES {
        let _ = writeln!(w, "| {change} | {place} | {effect} |");
    }
    let _ = writeln!(w);
}

/// Issue 13's three targets for one echo path, as ratios to its floor in the same runs.
struct EchoTarget {
    path: &'static str,
    min_rate: f64,
    max_cpu: f64,
    max_rss: f64,
    /// The burst size the peak RSS is measured at.
    n: usize,
}

impl EchoTarget {
    /// Throughput, CPU and peak RSS rows (plus a loss row when something was lost), from the
    /// path's runs paired with the floor's.
    fn rows(&self, runs: &[&EchoMeasure], floor: &[&EchoMeasure], rows: &mut Vec<TargetRow>) {
        let complete = |m: &EchoMeasure| m.error.is_none() && m.throughput.completed;
        let paired = |value: fn(&EchoMeasure) -> f64| -> Vec<f64> {
            runs.iter()
                .zip(floor)
                .filter(|(m, fm)| complete(m) && complete(fm))
                .map(|(m, fm)| value(m) / value(fm))
                .filter(|v| v.is_finite())
                .collect()
        };
        let (path, min_rate, max_cpu, max_rss) = (self.path, self.min_rate, self.max_cpu, self.max_rss);
        rows.push(TargetRow::new(
            format!("{path}: throughput ≥ {min_rate}× floor"),
            &paired(|m| m.throughput.rate()),
            |v| v >= min_rate,
            |v| format!("{v:.2}×"),
        ));
        rows.push(TargetRow::new(
            format!("{path}: CPU per event ≤ {max_cpu}× floor"),
            &paired(|m| m.cpu_us_per_event),
            |v| v <= max_cpu,
            |v| format!("{v:.2}×"),
        ));
        let rss: Vec<f64> = runs
            .iter()
            .filter(|m| m.error.is_none())
            .map(|m| m.peak_rss_kb as f64 / 1024.0)
            .collect();
        rows.push(TargetRow::new(
            format!("{path}: peak RSS ≤ {max_rss} MB at N = {}", num(self.n as f64, 0)),
            &rss,
            |v| v <= max_rss,
            |v| format!("{v:.1} MB"),
        ));
        let lost: usize = runs.iter().map(|m| m.throughput.lost()).sum();
        let dup: u64 = runs.iter().map(|m| m.throughput.duplicates).sum();
        if lost > 0 || dup > 0 {
            rows.push(TargetRow {
                target: format!("{path}: nothing lost or duplicated"),
                figure: format!("lost {lost}, duplicated {dup}"),
                verdict: "**missed**".into(),
            });
        }
    }
}

/// One target: what it asks, the figure over the runs, and the verdict.
struct TargetRow {
    target: String,
    figure: String,
    verdict: String,
}

impl TargetRow {
    fn new(
        target: String,
        values: &[f64],
        met: impl Fn(f64) -> bool,
        show: impl Fn(f64) -> String,
    ) -> TargetRow {
        let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return TargetRow {
                target,
                figure: "not measured".into(),
                verdict: "–".into(),
            };
        }
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let figure = if values.len() == 1 {
            format!("{} (1 run)", show(values[0]))
        } else {
            format!(
                "{}; {} – {} over {} runs",
                show(median(values.iter().copied())),
                show(lo),
                show(hi),
                values.len()
            )
        };
        let hits = values.iter().filter(|v| met(**v)).count();
        let verdict = if hits == values.len() {
            "met".to_owned()
        } else if hits == 0 {
            "**missed**".to_owned()
        } else {
            format!("met in {hits} of {}", values.len())
        };
        TargetRow {
            target,
            figure,
            verdict,
        }
    }
}

/// Per-client medians of the echo scenarios.
struct EchoSummary<'a> {
    r: &'a EchoResults,
    ok_runs: usize,
    complete_runs: usize,
    /// The most echoes an incomplete burst got back.
    incomplete_received: usize,
    rate: f64,
    cpu: f64,
    switches: f64,
    rss_mb: f64,
    lost: usize,
    dup: u64,
    reordered: u64,
    stray: u64,
    reconnects: u64,
    /// Per rate: p50, p90, p99, max (µs), lost.
    latency: Vec<([f64; 4], usize)>,
    error: Option<String>,
}

fn summarize<'a>(r: &'a EchoResults, rates: usize) -> EchoSummary<'a> {
    let ok: Vec<_> = r.runs.iter().filter(|m| m.error.is_none()).collect();
    // Throughput figures come from complete bursts only; an incomplete one is reported as such.
    let complete: Vec<_> = ok.iter().filter(|m| m.throughput.completed).collect();
    let latency = (0..rates)
        .map(|i| {
            let pick = |p: f64| {
                median(
                    ok.iter()
                        .filter_map(|m| m.latency.get(i))
                        .map(|l| l.percentile(p)),
                )
            };
            let lost = ok.iter().filter_map(|m| m.latency.get(i)).map(|l| l.lost()).sum();
            ([pick(50.0), pick(90.0), pick(99.0), pick(100.0)], lost)
        })
        .collect();
    EchoSummary {
        r,
        ok_runs: ok.len(),
        complete_runs: complete.len(),
        incomplete_received: ok
            .iter()
            .filter(|m| !m.throughput.completed)
            .map(|m| m.throughput.received)
            .max()
            .unwrap_or(0),
        rate: median(complete.iter().map(|m| m.throughput.rate())),
        cpu: median(complete.iter().map(|m| m.cpu_us_per_event)),
        switches: median(complete.iter().map(|m| m.switches_per_event)),
        rss_mb: median(ok.iter().map(|m| m.peak_rss_kb as f64 / 1024.0)),
        lost: ok.iter().map(|m| m.throughput.lost()).sum(),
        dup: ok.iter().map(|m| m.throughput.duplicates).sum(),
        reordered: ok.iter().map(|m| m.throughput.reordered).sum(),
        stray: ok.iter().map(|m| m.throughput.stray + m.throughput.wrong).sum(),
        reconnects: ok.iter().map(|m| m.reconnects).sum(),
        latency,
        error: r.runs.iter().find_map(|m| m.error.clone()),
    }
}

fn ms(us: f64) -> String {
    num(us / 1000.0, 2)
}

impl Report {
    /// The markdown section (between the markers in BENCHMARKS.md).
    pub fn markdown(&self, settings: &Settings) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "## Throughput, latency, scale and dispatch (issue 6)\n");
        let _ = writeln!(
            w,
            "Generated by the harness in `bench/` (`rtm-bench`); every figure below is what it printed. \
             Reproduce with one command (peers need `bench/setup-peers.sh` first, else they are left out):\n"
        );
        let _ = writeln!(w, "```text\n{}\n```\n", self.command);
        let _ = writeln!(
            w,
            "**Machine**: {}.\n",
            self.machine
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let _ = writeln!(
            w,
            "**Method.** A dedicated load server in the harness (tokio + tokio-tungstenite, hand-rolled HTTP \
             for `rtm.connect`) runs on 127.0.0.1 in the harness process; every client runs as a process of its own \
             and is measured the same way: CPU = utime + stime from `/proc/<pid>/stat` over the measured window, \
             peak memory = `VmHWM` from `/proc/<pid>/status`. The server pushes `message` events (a realistic \
             ~330-byte payload with a sequence number in `text`), answers each echo with \
             `{{\"ok\":true,\"reply_to\":..}}`, and checks that every echo arrived exactly once and in order. \
             \"ours (read)\" is the real `examples/echo_bot` binary (release build), so the contract is what is \
             measured; \"ours (dispatcher)\" is the same echo written the idiomatic way as an `RtmDispatcher` \
             handler (default `Ordering::Concurrent`, `ctx.reply(..).await` in the handler); \"ours (dispatcher, \
             per-channel)\" uses `Ordering::PerChannel` and checks each reply on a spawned task, so echoes stay in \
             order and pipelined; \"floor\" is the thinnest correct echo client on the same stack (reqwest \
             `rtm.connect`, tokio-tungstenite, serde_json, one loop that flushes when no input is ready; no \
             keepalive, no reconnect). {} run(s) per client, interleaved; tables show the median and the ratio to \
             the floor's median (incomplete bursts are shown as such and left out of the medians). The fixed-rate \
             phases run first, then the burst. Server and client share the machine's {} cores.\n",
            settings.runs,
            std::thread::available_parallelism().map_or(0, usize::from)
        );
        for note in &self.notes {
            let _ = writeln!(w, "- {note}");
        }
        if !self.notes.is_empty() {
            let _ = writeln!(w);
        }
        self.echo_tables(w, settings);
        self.scale_table(w, settings);
        self.dispatch_table(w, settings);
        self.profile_table(w, settings);
        crate::socket_mode::markdown(w, &self.socket, settings);
        self.instructions_table(w);
        self.targets(w, settings);
        changes(w);
        out
    }

    fn floor(&self, settings: &Settings) -> Option<EchoSummary<'_>> {
        self.echo
            .iter()
            .find(|r| r.spec.is_floor)
            .map(|r| summarize(r, settings.rates.len()))
    }

    fn echo_tables(&self, w: &mut String, settings: &Settings) {
        if self.echo.is_empty() {
            return;
        }
        let rows: Vec<EchoSummary<'_>> = self
            .echo
            .iter()
            .map(|r| summarize(r, settings.rates.len()))
            .collect();
        let floor = self.floor(settings);
        let (f_rate, f_cpu) = floor.as_ref().map_or((f64::NAN, f64::NAN), |f| (f.rate, f.cpu));
        let _ = writeln!(
            w,
            "### 1. Throughput: N = {} events, pushed as fast as the socket takes them\n",
            num(settings.throughput_n as f64, 0)
        );
        let _ = writeln!(
            w,
            "Time from the first event written to the last echo received. Thread switches: voluntary plus \
             involuntary context switches of the client's threads during the burst (`/proc/<pid>/task/*/status`), \
             per event; a worker that parks and is woken again costs one.\n"
        );
        let _ = writeln!(
            w,
            "| client | events/s | × floor | client CPU µs/event | × floor | thread switches/event | peak RSS MB | lost / dup / reordered (all runs) | reconnects | runs |"
        );
        let _ = writeln!(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for s in &rows {
            if s.ok_runs == 0 {
                let _ = writeln!(
                    w,
                    "| {} | failed: {} | | | | | | | | 0 |",
                    s.r.spec.label,
                    s.error.clone().unwrap_or_default()
                );
                continue;
            }
            let incomplete = s.ok_runs - s.complete_runs;
            let rate = if s.complete_runs == 0 {
                format!(
                    "incomplete: {} of {} echoes within {} s",
                    num(s.incomplete_received as f64, 0),
                    num(settings.throughput_n as f64, 0),
                    settings.burst_max.as_secs()
                )
            } else if incomplete > 0 {
                format!("{} ({incomplete} run(s) incomplete)", num(s.rate, 0))
            } else {
                num(s.rate, 0)
            };
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} / {} / {}{} | {} | {} |",
                s.r.spec.label,
                rate,
                ratio(s.rate, f_rate),
                num(s.cpu, 2),
                ratio(s.cpu, f_cpu),
                num(s.switches, 3),
                num(s.rss_mb, 1),
                s.lost,
                s.dup,
                s.reordered,
                if s.stray > 0 {
                    format!(" (+{} unexpected)", s.stray)
                } else {
                    String::new()
                },
                s.reconnects,
                s.ok_runs
            );
        }
        let _ = writeln!(w);
        if let Some(svg) = &self.svg_path {
            let _ = writeln!(w, "![throughput per client]({svg})\n");
        }
        for (i, rate) in settings.rates.iter().enumerate() {
            let f_p99 = floor
                .as_ref()
                .and_then(|f| f.latency.get(i))
                .map_or(f64::NAN, |l| l.0[2]);
            let _ = writeln!(
                w,
                "### 2{}. Latency at {} events/s ({} s, {} events per run)\n",
                ['a', 'b', 'c', 'd'][i.min(3)],
                num(*rate, 0),
                settings.latency_secs,
                num(rate * settings.latency_secs, 0)
            );
            let _ = writeln!(
                w,
                "Echo round trip, from the server writing the event to the server reading the echo.\n"
            );
            let _ = writeln!(
                w,
                "| client | p50 ms | p90 ms | p99 ms | max ms | p99 × floor | lost (all runs) |"
            );
            let _ = writeln!(w, "|---|--:|--:|--:|--:|--:|--:|");
            for s in rows.iter().filter(|s| s.ok_runs > 0) {
                let Some((p, lost)) = s.latency.get(i) else {
                    continue;
                };
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    s.r.spec.label,
                    ms(p[0]),
                    ms(p[1]),
                    ms(p[2]),
                    ms(p[3]),
                    ratio(p[2], f_p99),
                    lost
                );
            }
            let _ = writeln!(w);
        }
    }

    fn scale_table(&self, w: &mut String, settings: &Settings) {
        if self.scale.is_empty() {
            return;
        }
        let _ = writeln!(w, "### 3. Scale: N connections in one process\n");
        let _ = writeln!(
            w,
            "Each connection opened through `rtm.connect` (the load server allows {} calls/s and answers 429 + \
             `Retry-After: 1` beyond; the client paces itself at that rate), then left idle with its keepalive \
             running; idle CPU is the client process's CPU over the idle window as a share of one core; pings/s is \
             what the server received (JSON and websocket pings). Then {} events are spread evenly over the \
             connections and echoed. RSS per connection = (RSS after the idle window − RSS before the first \
             connect) / N.\n",
            settings.connect_rate,
            num(settings.spread_events as f64, 0)
        );
        let _ = writeln!(
            w,
            "| client | N | keepalive | time to connect all | 429s (client retries) | RSS MB | RSS/conn KiB | idle window | idle CPU % of a core | pings/s | spread events/s | lost |"
        );
        let _ = writeln!(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for m in &self.scale {
            if let Some(e) = &m.error {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | failed: {e} | | | | | | | | |",
                    m.label,
                    num(m.n as f64, 0),
                    m.keepalive
                );
                continue;
            }
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} s | {} ({}) | {} | {} | {} s | {} | {} | {} over {} | {} |",
                m.label,
                num(m.n as f64, 0),
                m.keepalive,
                num(m.connect_secs, 1),
                m.rate_limited,
                m.retries,
                num(m.rss_kb as f64 / 1024.0, 1),
                num(m.rss_per_conn_kib(), 1),
                num(m.idle_secs, 0),
                num(m.idle_cpu_pct, 2),
                num(m.pings_per_sec, 0),
                num(m.spread_rate, 0),
                num(m.spread_events as f64, 0),
                m.spread_lost + m.failed as usize
            );
        }
        let _ = writeln!(w);
    }

    fn dispatch_table(&self, w: &mut String, settings: &Settings) {
        if self.dispatch.is_empty() {
            return;
        }
        let base = self
            .dispatch
            .iter()
            .find(|d| d.key == "drain")
            .map_or(f64::NAN, |d| median(d.cpu_ns.iter().copied()));
        let _ = writeln!(
            w,
            "### 4. Dispatch: {} events, trivial handler\n",
            num(settings.dispatch_n as f64, 0)
        );
        let _ = writeln!(
            w,
            "The dispatcher has no way to inject events without a socket, so events come through the load server \
             (pushed as fast as the socket takes them, then an end marker the consumer answers). The dispatcher's \
             own cost is the difference between its CPU per event and a plain `read()` loop's on the same stream.\n"
        );
        let _ = writeln!(
            w,
            "| consumer | client CPU ns/event | overhead vs read() ns/event | events/s (wall) | runs |"
        );
        let _ = writeln!(w, "|---|--:|--:|--:|--:|");
        for d in &self.dispatch {
            let cpu = median(d.cpu_ns.iter().copied());
            let overhead = if d.key == "drain" {
                "–".to_owned()
            } else {
                num(cpu - base, 0)
            };
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {}{} |",
                d.label,
                num(cpu, 0),
                overhead,
                num(median(d.rate.iter().copied()), 0),
                d.cpu_ns.len(),
                if d.errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({} failed: {})", d.errors.len(), d.errors[0])
                }
            );
        }
        let _ = writeln!(w);
    }

    fn profile_table(&self, w: &mut String, settings: &Settings) {
        if self.profile.is_empty() {
            return;
        }
        let _ = writeln!(w, "### 5. Diagnostics: allocations and CPU per echoed event\n");
        let _ = writeln!(
            w,
            "A burst of {} events (after a warm-up burst) against the same clients built into `rtm-bench-alloc`, \
             which counts every allocation (`stats_alloc`); CPU from `/proc/<pid>/task/*/schedstat` (ns). \
             \"current\" runs the same client on a tokio current-thread runtime: one thread, so no cross-thread \
             wake-ups between the application and the connection task. One run each; for finding where the time \
             goes, not for the targets.\n",
            num(settings.profile_n as f64, 0)
        );
        let _ = writeln!(
            w,
            "| client | runtime | allocations/event | bytes allocated/event | CPU µs/event |"
        );
        let _ = writeln!(w, "|---|---|--:|--:|--:|");
        for p in &self.profile {
            match &p.error {
                Some(e) => {
                    let _ = writeln!(w, "| {} | {} | failed: {e} | | |", p.label, p.runtime);
                }
                None => {
                    let _ = writeln!(
                        w,
                        "| {} | {} | {} | {} | {} |",
                        p.label,
                        p.runtime,
                        num(p.allocs_per_event, 1),
                        num(p.bytes_per_event, 0),
                        num(p.cpu_us_per_event, 2)
                    );
                }
            }
        }
        let _ = writeln!(w);
    }

    fn instructions_table(&self, w: &mut String) {
        if self.instructions.is_empty() {
            return;
        }
        let events = self.instructions.first().map_or(0, |m| m.events);
        let _ = writeln!(w, "### 7. Profile summary: instructions per event (callgrind)\n");
        let _ = writeln!(
            w,
            "Each client runs under `valgrind --tool=callgrind`; after a warm-up burst the counters are zeroed \
             (`callgrind_control -z`), a burst of {} events runs (echoed, or drained and ended with a marker for the \
             two dispatch consumers), and the counters are dumped. Instruction counts repeat within about 1 % from \
             run to run on a shared machine where times do not; they count every thread of the client process in \
             user space (the kernel's side of a syscall or a futex is not in them, and callgrind runs one thread at \
             a time, so the cost of two cores bouncing data is not either: that is why CPU ratios exceed \
             instruction ratios). Dumps: `target/rtm-bench/callgrind/`.\n",
            num(events as f64, 0)
        );
        let floor = self
            .instructions
            .iter()
            .find(|m| m.key == "floor")
            .map_or(f64::NAN, |m| m.ir_per_event);
        let baseline = |key: &str| {
            self.instructions_baseline
                .iter()
                .find(|m| m.key == key && m.error.is_none())
                .map(|m| m.ir_per_event)
        };
        let with_baseline = !self.instructions_baseline.is_empty();
        let categories = [
            "JSON (serde_json)",
            "allocator",
            "memcpy, memset, UTF-8 checks",
            "websocket (tungstenite)",
            "async runtime (tokio, futures)",
            "rtm-core connection and client",
            "rtm-core dispatcher",
            "tracing",
            "other",
        ];
        let _ = write!(w, "| client | instructions/event | × floor |");
        if with_baseline {
            let _ = write!(w, " baseline | change |");
        }
        for c in categories {
            let _ = write!(w, " {c} |");
        }
        let _ = writeln!(w);
        let _ = write!(w, "|---|--:|--:|");
        if with_baseline {
            let _ = write!(w, "--:|--:|");
        }
        let _ = writeln!(w, "{}", "--:|".repeat(categories.len()));
        for m in &self.instructions {
            if let Some(e) = &m.error {
                let _ = writeln!(w, "| {} | failed: {e} | |", m.label);
                continue;
            }
            let _ = write!(
                w,
                "| {} | {} | {} |",
                m.label,
                num(m.ir_per_event, 0),
                if matches!(m.key, "drain" | "dispatch-trivial") {
                    "–".to_owned()
                } else {
                    ratio(m.ir_per_event, floor)
                }
            );
            if with_baseline {
                let b = baseline(m.key).unwrap_or(f64::NAN);
                let change = if b.is_finite() {
                    format!("{:+.0} %", (m.ir_per_event / b - 1.0) * 100.0)
                } else {
                    "–".to_owned()
                };
                let _ = write!(w, " {} | {change} |", num(b, 0));
            }
            for c in categories {
                let sum: f64 = m
                    .top
                    .iter()
                    .filter(|(_, name)| crate::callgrind::category(name) == c)
                    .map(|(ir, _)| ir)
                    .sum();
                let _ = write!(w, " {} |", num(sum.max(0.0), 0));
            }
            let _ = writeln!(w);
        }
        let _ = writeln!(w);
        if let (Some(d), Some(b)) = (
            self.instructions.iter().find(|m| m.key == "dispatch-trivial"),
            self.instructions.iter().find(|m| m.key == "drain"),
        ) {
            let _ = writeln!(
                w,
                "Dispatch overhead in instructions: {} per event (trivial handler {} − `read()` loop {}).\n",
                num(d.ir_per_event - b.ir_per_event, 0),
                num(d.ir_per_event, 0),
                num(b.ir_per_event, 0)
            );
        }
        let _ = writeln!(
            w,
            "Top entries: the functions with the most instructions of their own, per event.\n"
        );
        for m in self.instructions.iter().filter(|m| m.error.is_none()) {
            let _ = writeln!(w, "<details><summary>{}</summary>\n", m.label);
            let _ = writeln!(w, "| instructions/event | share | function |");
            let _ = writeln!(w, "|--:|--:|---|");
            for (ir, name) in m.top.iter().take(15) {
                let _ = writeln!(
                    w,
                    "| {} | {:.1} % | `{}` |",
                    num(*ir, 0),
                    ir / m.ir_per_event * 100.0,
                    name.replace('|', "\\|")
                );
            }
            let _ = writeln!(w, "\n</details>\n");
        }
    }

    /// Issue 13's targets, one row each: the figure over every run (each run's ratio is to
    /// the floor measured in the same round), and whether it was met.
    fn targets(&self, w: &mut String, settings: &Settings) {
        let mut rows: Vec<TargetRow> = Vec::new();
        let floor = self.echo.iter().find(|r| r.spec.is_floor);
        let floor_runs: Vec<&EchoMeasure> = floor.map(|f| f.runs.iter().collect()).unwrap_or_default();
        // (client key, label, min throughput ratio, max CPU ratio, max peak RSS MB)
        let paths = [
            ("read", "`read()` loop (echo_bot)", 0.9, 1.3, 16.0),
            ("dispatcher", "dispatcher, Concurrent", 0.6, 2.5, 32.0),
            ("dispatcher-ordered", "dispatcher, PerChannel", 0.7, 2.0, 24.0),
        ];
        for (key, path, min_rate, max_cpu, max_rss) in paths {
            let Some(r) = self.echo.iter().find(|r| r.spec.key == key) else {
                continue;
            };
            let runs: Vec<&EchoMeasure> = r.runs.iter().collect();
            let target = EchoTarget {
                path,
                min_rate,
                max_cpu,
                max_rss,
                n: settings.throughput_n,
            };
            target.rows(&runs, &floor_runs, &mut rows);
        }
        let sm_floor = self.socket.iter().find(|r| r.spec.is_floor);
        if let (Some(f), Some(r)) = (sm_floor, self.socket.iter().find(|r| !r.spec.is_floor)) {
            let runs: Vec<&EchoMeasure> = r.runs.iter().map(|m| &m.echo).collect();
            let floor_runs: Vec<&EchoMeasure> = f.runs.iter().map(|m| &m.echo).collect();
            let target = EchoTarget {
                path: "Socket Mode echo (socket_echo_bot)",
                min_rate: 0.7,
                max_cpu: 2.0,
                max_rss: 24.0,
                n: crate::socket_mode::burst_n(settings),
            };
            target.rows(&runs, &floor_runs, &mut rows);
        }
        if let (Some(f), Some(i)) = (floor, settings.rates.len().checked_sub(1)) {
            let rate = settings.rates[i];
            for (key, path) in [
                ("read", "`read()` loop"),
                ("dispatcher", "dispatcher, Concurrent"),
                ("dispatcher-ordered", "dispatcher, PerChannel"),
            ] {
                let Some(r) = self.echo.iter().find(|r| r.spec.key == key) else {
                    continue;
                };
                let ratios: Vec<f64> = r
                    .runs
                    .iter()
                    .zip(&f.runs)
                    .filter(|(m, fm)| m.error.is_none() && fm.error.is_none())
                    .filter_map(|(m, fm)| {
                        Some(m.latency.get(i)?.percentile(99.0) / fm.latency.get(i)?.percentile(99.0))
                    })
                    .filter(|v| v.is_finite())
                    .collect();
                rows.push(TargetRow::new(
                    format!("{path}: p99 at {} events/s ≤ 1.2× floor", num(rate, 0)),
                    &ratios,
                    |v| v <= 1.2,
                    |v| format!("{v:.2}×"),
                ));
            }
        }
        if let Some(m) = self
            .scale
            .iter()
            .filter(|m| m.label == "ours (read)" && m.error.is_none())
            .max_by_key(|m| m.n)
        {
            rows.push(TargetRow::new(
                format!("{} idle connections: ≤ 32 KiB each", num(m.n as f64, 0)),
                &[m.rss_per_conn_kib()],
                |v| v <= 32.0,
                |v| format!("{v:.1} KiB"),
            ));
            rows.push(TargetRow::new(
                format!(
                    "{} idle connections: ≤ 3 % of a core at the default keepalive ({})",
                    num(m.n as f64, 0),
                    m.keepalive
                ),
                &[m.idle_cpu_pct],
                |v| v <= 3.0,
                |v| format!("{v:.2} %"),
            ));
        }
        let base = self.dispatch.iter().find(|d| d.key == "drain");
        let disp = self.dispatch.iter().find(|d| d.key == "dispatch-trivial");
        if let (Some(b), Some(d)) = (base, disp) {
            let overheads: Vec<f64> = d
                .cpu_ns
                .iter()
                .zip(&b.cpu_ns)
                .map(|(d, b)| (d - b) / 1000.0)
                .collect();
            rows.push(TargetRow::new(
                "dispatch overhead, trivial handler: ≤ 0.5 µs per event".into(),
                &overheads,
                |v| v <= 0.5,
                |v| format!("{v:.2} µs"),
            ));
        }
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(w, "### Targets (issue 13)\n");
        let _ = writeln!(
            w,
            "Ratios are to the floor measured in the same round of runs; the figure is the median and the range \
             over the runs. \"met\" means met in every run, \"met in k of n\" in some.\n"
        );
        let _ = writeln!(w, "| target | measured (median; range over runs) | |");
        let _ = writeln!(w, "|---|---|---|");
        for row in rows {
            let _ = writeln!(w, "| {} | {} | {} |", row.target, row.figure, row.verdict);
        }
        let _ = writeln!(w);
    }

    /// A horizontal bar chart of median throughput per client.
    pub fn svg(&self, settings: &Settings) -> String {
        let rows: Vec<(String, f64, bool, bool)> = self
            .echo
            .iter()
            .map(|r| {
                let s = summarize(r, settings.rates.len());
                (
                    r.spec.label.to_owned(),
                    if s.rate.is_finite() { s.rate } else { 0.0 },
                    r.spec.ours,
                    r.spec.is_floor,
                )
            })
            .collect();
        let max = rows.iter().map(|r| r.1).fold(1.0, f64::max);
        let (left, width, bar_h, gap, top) = (240.0, 410.0, 26.0, 10.0, 56.0);
        let height = top + rows.len() as f64 * (bar_h + gap) + 30.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{height}" viewBox="0 0 760 {height}" font-family="sans-serif" font-size="13">"#
        );
        let _ = writeln!(s, r##"<rect width="760" height="{height}" fill="#ffffff"/>"##);
        let _ = writeln!(
            s,
            r##"<text x="20" y="26" font-size="16" font-weight="bold" fill="#1a202c">Echo throughput, N = {} events (median of runs, events/s)</text>"##,
            num(settings.throughput_n as f64, 0)
        );
        let _ = writeln!(
            s,
            r##"<text x="20" y="44" font-size="11" fill="#4a5568">rtm-bench on 127.0.0.1; higher is better. Blue: rtm-core; dark grey: bare-stack floor; light grey: peer SDKs.</text>"##
        );
        for (i, (label, value, ours, floor)) in rows.iter().enumerate() {
            let y = top + i as f64 * (bar_h + gap);
            let w = (value / max * width).max(1.0);
            let color = if *ours {
                "#2b6cb0"
            } else if *floor {
                "#4a5568"
            } else {
                "#a0aec0"
            };
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" text-anchor="end" fill="#1a202c">{}</text>"##,
                left - 8.0,
                y + bar_h * 0.68,
                xml(label)
            );
            let _ = writeln!(
                s,
                r#"<rect x="{left}" y="{y}" width="{w:.1}" height="{bar_h}" fill="{color}"/>"#
            );
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{}" fill="#1a202c">{}</text>"##,
                left + w + 6.0,
                y + bar_h * 0.68,
                if *value > 0.0 {
                    num(*value, 0)
                } else {
                    "incomplete (see table)".to_owned()
                }
            );
        }
        let _ = writeln!(s, "</svg>");
        s
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Replaces the text between the markers in `existing` (or appends a marked section), keeping
/// everything else (e.g. other helpers' sections) as it is.
pub fn splice(existing: &str, section: &str) -> String {
    let block = format!("{BEGIN}\n{}\n{END}", section.trim_end());
    if let (Some(b), Some(e)) = (existing.find(BEGIN), existing.find(END))
        && b < e
    {
        return format!("{}{block}{}", &existing[..b], &existing[e + END.len()..]);
    }
    if existing.trim().is_empty() {
        return format!("# Benchmarks\n\n{block}\n");
    }
    format!("{}\n\n{block}\n", existing.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_keeps_other_sections() {
        let first = splice("", "## A\nfigures");
        assert!(first.starts_with("# Benchmarks\n\n<!-- bench:begin -->\n## A\nfigures\n<!-- bench:end -->"));
        let other = format!("{first}\n## Classify and dispatch (issue 5)\nkeep me\n");
        let again = splice(&other, "## A\nnew figures");
        assert!(again.contains("new figures") && !again.contains("\nfigures"));
        assert!(again.contains("## Classify and dispatch (issue 5)\nkeep me"));
        let appended = splice("# Benchmarks\n\n## Classify and dispatch (issue 5)\nx\n", "S");
        assert!(appended.contains(
            "## Classify and dispatch (issue 5)\nx\n\n<!-- bench:begin -->\nS\n<!-- bench:end -->"
        ));
    }

    #[test]
    fn numbers_and_medians() {
        assert_eq!(num(1234567.891, 1), "1,234,567.9");
        assert_eq!(num(-1234.0, 0), "-1,234");
        assert_eq!(num(999.0, 0), "999");
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median([f64::NAN]).is_nan());
    }
}

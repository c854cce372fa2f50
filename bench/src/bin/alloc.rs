//! `rtm-bench-alloc KIND`: one of the harness's clients (see `clients.rs`) with a counting global
//! allocator. Each `mark` line on stdin prints `mark <allocations> <bytes allocated> <thread CPU
//! ns>` on stdout, so the harness can take differences around a burst of events.
#![allow(dead_code)]

#[path = "../clients.rs"]
mod clients;
#[path = "../procfs.rs"]
mod procfs;
#[path = "../server.rs"]
mod server;

use std::{
    alloc::System,
    io::{BufRead, Write},
    process::ExitCode,
};

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(kind) = args.first().cloned() else {
        eprintln!("usage: rtm-bench-alloc KIND [ARGS]");
        return ExitCode::FAILURE;
    };
    std::thread::spawn(|| {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "mark" {
                let stats = GLOBAL.stats();
                let cpu = procfs::thread_cpu_ns(std::process::id()).unwrap_or(0);
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "mark {} {} {cpu}",
                    stats.allocations + stats.reallocations,
                    stats.bytes_allocated
                );
                let _ = out.flush();
            }
        }
    });
    match clients::run(&kind, &args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtm-bench-alloc {kind}: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Classify-and-dispatch cost per frame (issue 5), hand-rolled: no criterion.
//!
//! For three realistic frames it times, in the same run:
//! - **ours**: `Event::from_json` (the classifier: peeks `type`/`subtype`, keeps the text) plus
//!   a lookup of `kind()` in a `HashMap<&str, usize>` of handlers (the dispatch step);
//! - **baseline**: `serde_json::from_str::<serde_json::Value>` on the same text, reading
//!   `["type"]` and doing the same lookup;
//! - **typed**: `event.parse::<T>()` of the matching struct, for reference.
//!
//! `Event::from_json` takes a `String`, so "ours" also pays for one copy of the frame (the
//! connection hands the received buffer over without copying); the comparison is therefore
//! conservative.
//!
//! Run: `cargo bench -p rtm-core --bench classify`. `RTM_BENCH_SMOKE=1` runs a few
//! iterations only, to check that the bench still works.

use std::{collections::HashMap, hint::black_box, time::Instant};

use rtm_core::{
    Event,
    events::{self, Message, TeamJoin},
};

const SHORT_MESSAGE: &str = r#"{"type":"message","channel":"C2147483705","user":"U2147483697","text":"Hello world, is the deploy done?","ts":"1355517523.000005","client_msg_id":"ed722fbc-5b37-4f78-9981-e3c9ce5c85a1","suppress_notification":false,"team":"T6CRHMX5G","user_team":"T6CRHMX5G","source_team":"T6CRHMX5G","event_ts":"1355517523.000005"}"#;

const MESSAGE_CHANGED: &str = r#"{"type":"message","subtype":"message_changed","hidden":true,"channel":"C2147483705","ts":"1358878755.000001","event_ts":"1358878755.000001","message":{"type":"message","user":"U2147483697","text":"Hello, world! The deploy is done.","client_msg_id":"ed722fbc-5b37-4f78-9981-e3c9ce5c85a1","ts":"1355517523.000005","team":"T6CRHMX5G","edited":{"user":"U2147483697","ts":"1358878755.000001"},"blocks":[{"type":"rich_text","block_id":"Xa4b","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"Hello, world! The deploy is "},{"type":"text","text":"done","style":{"bold":true}},{"type":"text","text":"."}]}]}],"source_team":"T6CRHMX5G","user_team":"T6CRHMX5G"},"previous_message":{"type":"message","user":"U2147483697","text":"Hello world, is the deploy done?","client_msg_id":"ed722fbc-5b37-4f78-9981-e3c9ce5c85a1","ts":"1355517523.000005","team":"T6CRHMX5G","blocks":[{"type":"rich_text","block_id":"Xa4b","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"Hello world, is the deploy done?"}]}]}]}}"#;

const TEAM_JOIN: &str = r#"{"type":"team_join","user":{"id":"W0123ABCDEF","team_id":"T6CRHMX5G","name":"jane.doe","deleted":false,"color":"4bbe2e","real_name":"Jane Doe","tz":"Europe/Paris","tz_label":"Central European Time","tz_offset":3600,"profile":{"title":"Site Reliability Engineer","phone":"+33 1 23 45 67 89","skype":"","real_name":"Jane Doe","real_name_normalized":"Jane Doe","display_name":"jane","display_name_normalized":"jane","fields":{},"status_text":"On call","status_emoji":":pager:","status_emoji_display_info":[],"status_expiration":0,"avatar_hash":"g1a2b3c4d5e6","email":"jane.doe@example.com","first_name":"Jane","last_name":"Doe","image_24":"https://secure.gravatar.com/avatar/1a2b3c4d5e6f.jpg?s=24&d=https%3A%2F%2Fa.slack-edge.com%2Fdf10d%2Fimg%2Favatars%2Fava_0001-24.png","image_32":"https://secure.gravatar.com/avatar/1a2b3c4d5e6f.jpg?s=32&d=https%3A%2F%2Fa.slack-edge.com%2Fdf10d%2Fimg%2Favatars%2Fava_0001-32.png","image_48":"https://secure.gravatar.com/avatar/1a2b3c4d5e6f.jpg?s=48&d=https%3A%2F%2Fa.slack-edge.com%2Fdf10d%2Fimg%2Favatars%2Fava_0001-48.png","image_72":"https://secure.gravatar.com/avatar/1a2b3c4d5e6f.jpg?s=72&d=https%3A%2F%2Fa.slack-edge.com%2Fdf10d%2Fimg%2Favatars%2Fava_0001-72.png","image_192":"https://secure.gravatar.com/avatar/1a2b3c4d5e6f.jpg?s=192&d=https%3A%2F%2Fa.slack-edge.com%2Fdf10d%2Fimg%2Favatars%2Fava_0001-192.png","image_512":"https://secure.gravatar.com/avatar/1a2b3c4d5e6f.jpg?s=512&d=https%3A%2F%2Fa.slack-edge.com%2Fdf10d%2Fimg%2Favatars%2Fava_0001-512.png","status_text_canonical":"","team":"T6CRHMX5G"},"is_admin":false,"is_owner":false,"is_primary_owner":false,"is_restricted":false,"is_ultra_restricted":false,"is_bot":false,"is_app_user":false,"updated":1700000000,"is_email_confirmed":true,"who_can_share_contact_card":"EVERYONE","presence":"away"},"cache_ts":1700000000,"event_ts":"1700000000.000200"}"#;

/// Iterations per round and rounds, normal and smoke.
const FULL: (u32, usize) = (20_000, 15);
const SMOKE: (u32, usize) = (200, 3);

/// Mean ns per call of `f` over `iters` calls.
fn time_ns(iters: u32, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

/// The median ns per call of each closure. Rounds alternate between the closures, so that a
/// burst of load on the machine hits them alike.
fn medians<const N: usize>(iters: u32, rounds: usize, mut fs: [&mut dyn FnMut(); N]) -> [f64; N] {
    // Warm-up: caches, branch predictors, the allocator's free lists.
    for f in &mut fs {
        time_ns(iters.div_ceil(10), *f);
    }
    let mut samples: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(rounds));
    for _ in 0..rounds {
        for (f, samples) in fs.iter_mut().zip(&mut samples) {
            samples.push(time_ns(iters, *f));
        }
    }
    samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    })
}

/// The handler table a dispatcher would keep: type name -> handler index.
fn handlers() -> HashMap<&'static str, usize> {
    events::types::ALL
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, i))
        .collect()
}

/// Our path: classify the frame, then look its type up in the handler table.
fn ours(frame: &str, table: &HashMap<&str, usize>) -> Option<usize> {
    let event = Event::from_json(frame).expect("the bench frames are events");
    table.get(event.kind()).copied()
}

/// The baseline: build a full `serde_json::Value` tree, read `["type"]`, same lookup.
fn baseline(frame: &str, table: &HashMap<&str, usize>) -> Option<usize> {
    let value: serde_json::Value = serde_json::from_str(frame).expect("the bench frames are JSON");
    table.get(value["type"].as_str().unwrap_or_default()).copied()
}

fn main() {
    let smoke = std::env::var("RTM_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let (iters, rounds) = if smoke { SMOKE } else { FULL };
    let table = handlers();

    println!(
        "classify + dispatch, ns per frame (median of {rounds} rounds x {iters} iterations{})",
        if smoke { ", SMOKE MODE: not meaningful" } else { "" }
    );
    println!(
        "{:<16} {:>6} {:>12} {:>16} {:>8} {:>13}",
        "frame", "bytes", "ours (ns)", "Value+type (ns)", "ratio", "typed (ns)"
    );

    let frames: [(&str, &str); 3] = [
        ("message", SHORT_MESSAGE),
        ("message_changed", MESSAGE_CHANGED),
        ("team_join", TEAM_JOIN),
    ];
    for (name, frame) in frames {
        // Same answer both ways, and the typed parse succeeds, before timing anything.
        assert_eq!(ours(frame, &table), baseline(frame, &table));
        let event = Event::from_json(frame).expect("event");
        let typed_name = if event.kind() == events::types::TEAM_JOIN {
            "TeamJoin"
        } else {
            "Message"
        };
        let typed: fn(&Event) -> bool = if typed_name == "TeamJoin" {
            |e| e.parse::<TeamJoin>().is_ok()
        } else {
            |e| e.parse::<Message>().is_ok()
        };
        assert!(typed(&event), "{name} must parse as {typed_name}");

        let [ours_ns, base_ns, typed_ns] = medians(
            iters,
            rounds,
            [
                &mut || {
                    black_box(ours(black_box(frame), &table));
                },
                &mut || {
                    black_box(baseline(black_box(frame), &table));
                },
                &mut || {
                    black_box(typed(black_box(&event)));
                },
            ],
        );
        println!(
            "{:<16} {:>6} {:>12.0} {:>16.0} {:>7.1}x {:>13}",
            name,
            frame.len(),
            ours_ns,
            base_ns,
            base_ns / ours_ns,
            format!("{typed_ns:.0} {typed_name}")
        );
    }
    println!("ratio = baseline / ours (higher means our path is cheaper)");
}

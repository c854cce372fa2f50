// A handler that is never registered is dead code: with `deny(dead_code)` (or clippy's
// `-D warnings`) forgetting `.handler::<greet>()` fails the build, with exactly this error.
#![deny(dead_code)]

use rtm_core::{Event, rtm_event};

#[rtm_event(type = "team_join")]
async fn greet(_event: Event) {}

fn main() {}

use rtm_core::{Context, Event, rtm_event};

#[rtm_event(type = "team_join")]
async fn greet(_a: Context, _b: Context, _c: Context, _d: Context, _e: Context, _f: Context, _event: Event, _extra: Event) {}

fn main() {}

use rtm_core::{Context, Event, rtm_event};

#[rtm_event(type = "team_join")]
async fn greet(_ctx: Context, _event: Event, _extra: Event) {}

fn main() {}

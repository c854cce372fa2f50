use rtm_core::rtm_event;

struct NotAnEvent;

#[rtm_event(type = "team_join")]
async fn greet(_event: NotAnEvent) {}

fn main() {}

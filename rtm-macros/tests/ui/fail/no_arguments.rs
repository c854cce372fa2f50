use rtm_core::rtm_event;

#[rtm_event(type = "team_join")]
async fn greet() {}

fn main() {}

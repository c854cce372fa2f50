use rtm_core::rtm_event;

#[rtm_event(type = "team_join")]
struct Greeter;

fn main() {}

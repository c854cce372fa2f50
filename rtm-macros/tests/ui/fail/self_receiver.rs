use rtm_core::{Event, rtm_event};

struct Bot;

impl Bot {
    #[rtm_event(type = "team_join")]
    async fn greet(&self, _event: Event) {}
}

fn main() {}

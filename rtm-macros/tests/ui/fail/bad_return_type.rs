use rtm_core::{Event, rtm_event};

#[rtm_event(type = "message")]
async fn count(event: Event) -> usize {
    event.json().len()
}

fn main() {}

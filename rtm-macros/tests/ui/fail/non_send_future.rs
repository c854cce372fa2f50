use std::rc::Rc;

use rtm_core::{Event, rtm_event};

#[rtm_event(type = "message")]
async fn count(event: Event) {
    let shared = Rc::new(event);
    tokio::task::yield_now().await;
    println!("{}", shared.kind());
}

fn main() {}

use rtm_core::{Event, interaction};

#[interaction(type = "shortcut", callback_id = "")]
async fn ticket(_event: Event) {}

fn main() {}

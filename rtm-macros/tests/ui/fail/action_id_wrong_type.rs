// A view submission has no action id to route on.
use rtm_core::{Event, interaction};

#[interaction(type = "view_submission", action_id = "approve")]
async fn submit(_event: Event) {}

fn main() {}

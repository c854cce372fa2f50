// An interaction route names the payload type.
use rtm_core::{Event, interaction};

#[interaction(action_id = "approve")]
async fn approve(_event: Event) {}

fn main() {}

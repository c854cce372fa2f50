// A misspelt interaction type does not compile; the closest name is suggested.
use rtm_core::{Event, interaction};

#[interaction(type = "block_action", action_id = "approve")]
async fn approve(_event: Event) {}

fn main() {}

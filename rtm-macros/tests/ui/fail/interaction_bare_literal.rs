use rtm_core::{Event, interaction};

#[interaction("block_actions")]
async fn approve(_event: Event) {}

fn main() {}

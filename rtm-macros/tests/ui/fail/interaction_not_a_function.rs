use rtm_core::interaction;

#[interaction(type = "block_actions")]
mod approve {}

fn main() {}

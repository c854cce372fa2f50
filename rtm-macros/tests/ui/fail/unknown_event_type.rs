// A misspelt event type does not compile; rustc suggests the catalog's name.
use rtm_core::{Event, rtm_event};

#[rtm_event(type = "reaction_add")]
async fn on_reaction(_event: Event) {}

fn main() {}

// The payload struct must be the one of the interaction type.
use rtm_core::{interaction, interactive::BlockActions};

#[interaction(type = "view_submission", callback_id = "survey")]
async fn submit(_actions: BlockActions) {}

fn main() {}

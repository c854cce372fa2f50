// A handler that takes only `Context` has no event argument; it is not told to derive
// `Deserialize` for `Context`.
use rtm_core::{Context, rtm_event};

#[rtm_event(type = "message")]
async fn echo(_ctx: Context) {}

fn main() {}

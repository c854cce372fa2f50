// A slash command's payload struct is `SlashCommand`, not another interaction's.
use rtm_core::{interactive::BlockActions, slash_command};

#[slash_command("/deploy")]
async fn deploy(_actions: BlockActions) {}

fn main() {}

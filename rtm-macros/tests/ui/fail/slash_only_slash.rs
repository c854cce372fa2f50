// A command needs a name after the slash.
use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command("/")]
async fn deploy(_command: SlashCommand) {}

fn main() {}

// The command is a bare string literal, not a key.
use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command(command = "/deploy")]
async fn deploy(_command: SlashCommand) {}

fn main() {}

// A slash command handler must name its command.
use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command]
async fn deploy(_command: SlashCommand) {}

fn main() {}

// Slack commands start with `/`.
use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command("deploy")]
async fn deploy(_command: SlashCommand) {}

fn main() {}

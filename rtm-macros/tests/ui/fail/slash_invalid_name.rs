// Slack command names are one lowercase word.
use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command("/Deploy now")]
async fn deploy(_command: SlashCommand) {}

fn main() {}

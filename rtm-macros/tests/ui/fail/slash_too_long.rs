// Slack allows at most 32 characters after the slash.
use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command("/deploy-the-whole-thing-to-production-now")]
async fn deploy(_command: SlashCommand) {}

fn main() {}

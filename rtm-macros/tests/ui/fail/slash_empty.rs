// An empty command never matches.
use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command("")]
async fn deploy(_command: SlashCommand) {}

fn main() {}

// The same command twice when stacked.
use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command("/deploy")]
#[slash_command("/deploy")]
async fn deploy(_command: SlashCommand) {}

fn main() {}

use rtm_core::{interactive::SlashCommand, slash_command};

#[slash_command("/deploy")]
#[slash_command = "/ship"]
async fn deploy(_command: SlashCommand) {}

fn main() {}

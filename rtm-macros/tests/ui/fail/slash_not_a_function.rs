use rtm_core::slash_command;

#[slash_command("/deploy")]
struct Deploy;

fn main() {}

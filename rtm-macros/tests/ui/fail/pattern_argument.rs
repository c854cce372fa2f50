use rtm_core::rtm_event;

#[derive(serde::Deserialize)]
struct TeamJoin {
    user: String,
}

#[rtm_event(type = "team_join")]
async fn greet(TeamJoin { user: _ }: TeamJoin) {}

fn main() {}

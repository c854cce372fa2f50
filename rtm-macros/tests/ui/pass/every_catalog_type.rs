// Every event type of the catalog (`rtm_core::events::types::ALL`) is accepted: keeps the
// macro's list of known types equal to the catalog.
use rtm_core::{Event, RtmClient, RtmDispatcher, rtm_event};

#[rtm_event(type = "hello")]
#[rtm_event(type = "goodbye")]
#[rtm_event(type = "error")]
#[rtm_event(type = "reconnect_url")]
#[rtm_event(type = "message")]
#[rtm_event(type = "team_join")]
#[rtm_event(type = "team_rename")]
#[rtm_event(type = "user_change")]
#[rtm_event(type = "user_typing")]
#[rtm_event(type = "reaction_added")]
#[rtm_event(type = "reaction_removed")]
#[rtm_event(type = "channel_created")]
#[rtm_event(type = "channel_deleted")]
#[rtm_event(type = "channel_rename")]
#[rtm_event(type = "channel_archive")]
#[rtm_event(type = "member_joined_channel")]
#[rtm_event(type = "member_left_channel")]
#[rtm_event(type = "presence_change")]
#[rtm_event(type = "pin_added")]
#[rtm_event(type = "emoji_changed")]
#[rtm_event(type = "dnd_updated_user")]
async fn every(_event: Event) {}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<every>()
}

fn main() {
    assert_eq!(rtm_core::events::types::ALL.len(), 21);
    let _ = build;
}

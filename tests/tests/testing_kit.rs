//! The testing kit a bot author uses: a connected client in one line, builders for the
//! catalog's common events (each parses into its typed struct), and the posts ledger.

use std::time::Duration;

use rtm_core::{
    Event,
    emulator::Emulator,
    events::{ChannelCreated, MemberJoinedChannel, Message, ReactionAdded, ReactionRemoved, TeamJoin},
};
use rtm_tests::{init_tracing, read_events};

#[tokio::test]
async fn builders_push_events_that_parse_into_their_catalog_types() {
    init_tracing();
    let emu = Emulator::start().await.unwrap();
    let client = emu.client().await.unwrap();
    let question = emu.message("C0GENERAL", "U0HUMAN", "anyone?");
    let ts = question["ts"].as_str().unwrap().to_owned();
    emu.thread_reply("C0GENERAL", &ts, "U0OTHER", "me");
    emu.reaction_added("C0GENERAL", &ts, "U0OTHER", "eyes");
    emu.reaction_removed("C0GENERAL", &ts, "U0OTHER", "eyes");
    emu.team_join("U0NEW", "newbie");
    emu.channel_created("C0NEW", "new-channel", "U0HUMAN");
    emu.member_joined_channel("C0NEW", "U0NEW");

    let events: Vec<Event> = read_events(&client, 7).await;
    let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "reaction_added",
            "reaction_removed",
            "team_join",
            "channel_created",
            "member_joined_channel"
        ]
    );
    let reply: Message = events[1].parse().unwrap();
    assert_eq!(reply.thread_ts.as_deref(), Some(ts.as_str()));
    let added: ReactionAdded = events[2].parse().unwrap();
    assert_eq!(
        (added.user.as_str(), added.reaction.as_str()),
        ("U0OTHER", "eyes")
    );
    let _: ReactionRemoved = events[3].parse().unwrap();
    let join: TeamJoin = events[4].parse().unwrap();
    assert_eq!(join.user.id, "U0NEW");
    let created: ChannelCreated = events[5].parse().unwrap();
    assert_eq!(
        (created.channel.id.as_str(), created.channel.creator.as_str()),
        ("C0NEW", "U0HUMAN")
    );
    let joined: MemberJoinedChannel = events[6].parse().unwrap();
    assert_eq!(
        (joined.user.as_str(), joined.channel.as_str()),
        ("U0NEW", "C0NEW")
    );
}

#[tokio::test]
async fn what_the_bot_posted_comes_with_its_ts() {
    let emu = Emulator::start().await.unwrap();
    let client = emu.client().await.unwrap();
    let reply = client.send_message("C0GENERAL", "hello").await.unwrap();
    let posts = emu
        .wait_for_posts(1, Duration::from_secs(5))
        .await
        .expect("one post");
    assert_eq!(posts[0].text, "hello");
    assert_eq!(Some(posts[0].ts.clone()), reply.ts);
}

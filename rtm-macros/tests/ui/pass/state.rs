// Application state: the whole state, a part of it through `FromRef`, with and without
// `Context`, under the attribute and by hand.
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use rtm_core::{Context, Event, FromRef, Route, RtmClient, RtmDispatcher, State, events::Message, rtm_event};

#[derive(Clone, Default)]
struct AppState {
    seen: Arc<AtomicU64>,
    name: Name,
}

#[derive(Clone, Default)]
struct Name(Arc<str>);

impl FromRef<AppState> for Name {
    fn from_ref(state: &AppState) -> Name {
        state.name.clone()
    }
}

#[rtm_event(type = "message")]
async fn count(State(state): State<AppState>, _message: Message) {
    state.seen.fetch_add(1, Ordering::Relaxed);
}

#[rtm_event(type = "message")]
async fn greet(ctx: Context, State(Name(name)): State<Name>, state: State<AppState>, _message: Message) -> Result<(), rtm_core::BoxError> {
    let _ = state.0.seen.load(Ordering::Relaxed);
    ctx.reply(&format!("I am {name}")).await?;
    Ok(())
}

#[rtm_event(type = "*")]
async fn log(_event: Event) {}

async fn by_hand(_ctx: Context, State(_name): State<Name>, _event: Event) {}

fn build(client: RtmClient) -> RtmDispatcher<AppState> {
    RtmDispatcher::new(client)
        .handler::<log>()
        .with_state(AppState::default())
        .handler::<count>()
        .handler::<greet>()
        .handler::<log>()
        .on(Route::new("team_join"), by_hand)
}

fn main() {
    let _ = build;
}

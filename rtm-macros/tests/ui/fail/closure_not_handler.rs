// Without the attribute, `.on` reports the same trait-side errors.
use rtm_core::{Route, RtmClient, RtmDispatcher};

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).on(Route::new("team_join"), |event: u8| println!("{event}"))
}

fn main() {
    let _ = build;
}

// An async closure that captures is not a handler (its future borrows the closure); the
// error says what to write instead.
use rtm_core::{Event, Route, RtmClient, RtmDispatcher};

fn build(client: RtmClient) -> RtmDispatcher {
    let greeting = String::from("welcome");
    RtmDispatcher::new(client).on(Route::new("team_join"), async move |event: Event| {
        println!("{greeting}, {}", event.kind());
    })
}

fn main() {
    let _ = build;
}

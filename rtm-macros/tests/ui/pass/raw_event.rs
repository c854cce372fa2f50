// The function stays callable as written (doc comments and other attributes kept), and a
// `pub` handler gets a `pub` proxy usable from another module.
mod handlers {
    use rtm_core::{Event, rtm_event};

    /// Counts bytes.
    #[rtm_event(type = "user_typing")]
    #[inline]
    pub async fn count(_: Event) -> Result<(), std::io::Error> {
        Ok(())
    }
}

fn build(client: rtm_core::RtmClient) -> rtm_core::RtmDispatcher {
    rtm_core::RtmDispatcher::new(client).handler::<handlers::count>()
}

fn main() {
    let _ = build;
    let event = rtm_core::Event::from_json(r#"{"type":"user_typing"}"#).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(handlers::count(event)).unwrap();
}

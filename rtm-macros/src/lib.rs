//! The `#[rtm_event]` attribute. Use it through `rtm_core::rtm_event`; this crate is an
//! implementation detail and is versioned in lockstep with `rtm-core`.

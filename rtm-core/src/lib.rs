//! rtm

//! App-wide stores, provided as context by `App`; components read them.

pub mod auth;
pub mod chat;
pub mod realtime;

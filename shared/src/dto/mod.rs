//! Request and response bodies, one module per resource.

pub mod auth;
pub mod conversations;
pub mod messages;
pub mod users;

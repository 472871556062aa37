//! Request and response bodies, one module per resource.

pub mod auth;
pub mod users;

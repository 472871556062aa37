//! Side jobs that run beside the request path and never block it.

pub mod attachments;

//! Side jobs that run beside the HTTP server and never block a request:
//! each owns its queue and its retries.

pub mod attachments;
pub mod link_preview;
pub mod notify;

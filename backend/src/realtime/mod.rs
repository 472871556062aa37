//! Real-time delivery: the event bus behind one trait (in-process now;
//! Redis-backed across instances in the real-time work).

pub mod bus;
pub mod local_bus;
pub mod presence;

pub use bus::{Envelope, EventBus, Opened};

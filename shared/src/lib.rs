//! Types shared by the server and the SPA: request/response DTOs, the
//! real-time event enum and the stable error codes of the API. Compiled for
//! native and wasm32; it must never depend on anything server-only
//! (database, HTTP server, Tokio).

pub mod dto;
pub mod error;
pub mod events;

pub use error::{ErrorCode, FieldError, Problem};
pub use events::Event;

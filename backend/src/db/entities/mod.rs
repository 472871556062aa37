//! sea-orm entities: the generated shape, kept by hand in step with the
//! migrations. Entities never leave the backend; the API speaks `shared` DTOs.

pub mod api_tokens;
pub mod sessions;
pub mod users;

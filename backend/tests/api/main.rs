//! API integration tests: each test starts the real server in-process on a
//! random port, against a fresh PostgreSQL database and a fresh SQLite file
//! (the `db_test!` macro runs every behaviour on both), and talks HTTP.
//! Real-time tests also run through Redis (127.0.0.1:6379 or TEST_REDIS_URL).

mod helpers;
mod sse;

mod attachments;
mod auth;
mod authz;
mod cli;
mod conversations;
mod doctor;
mod faults;
mod fuzzing;
mod health;
mod import;
mod limits;
mod link_previews;
mod messages;
mod metrics;
mod migrations;
mod nginx;
mod notifications;
mod openapi;
mod pins;
mod properties;
mod reactions;
mod redis;
mod security_headers;
mod stream;
mod users;

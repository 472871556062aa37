//! The messaging service: the HTTP API and SSE server, and the CLI that
//! administers it. `main.rs` only calls `cli::main`.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod extract;
pub mod import;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod realtime;
pub mod routes;
pub mod security_headers;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod tls;

//! Gatehouse adapters: everything that touches the outside world — HTTP (poem-openapi),
//! persistence (sea-orm), password hashing (argon2), tokens (jsonwebtoken), limits —
//! and `bootstrap`, which wires them to the application's use cases. The `gatehouse`
//! binary (`main.rs`) only calls into this crate.

pub mod bootstrap;
pub mod config;
pub mod crypto;
pub mod http;
pub mod keys;
pub mod limits;
pub mod liveness;
pub mod persistence;
pub mod redact;
pub mod telemetry;
pub mod token;

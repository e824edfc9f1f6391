//! Black-box tests of gatehouse: the real app (built by `bootstrap::build_app`, as `main`
//! builds it) on a loopback port with its own SQLite database, driven over real HTTP;
//! and the real `gatehouse` binary for what needs a process (CLI, start-up, restarts).

mod abuse;
mod account;
mod auth;
mod binary;
mod contract;
mod framework;
mod helpers;
mod tokens;

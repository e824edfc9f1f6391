//! Black-box tests of gatehouse: the real app (built by `bootstrap::build_app`, as `main`
//! builds it) on a loopback port, driven over real HTTP; and the real `gatehouse` binary
//! for what needs a process (CLI, start-up, restarts).
//!
//! The HTTP suites run twice: `sqlite::…` on a SQLite file per test, `postgres::…` on a
//! PostgreSQL database created for each test and dropped after it (server from
//! `GATEHOUSE_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`). Without a
//! reachable PostgreSQL the `postgres::` tests run on SQLite and say so once — except in
//! CI (`CI=true`), where that is a failure. The tests that need PostgreSQL itself (two
//! instances, an outage, migrations, query plans) are the `needs_postgres` target's.

// The HTTP suites are compiled once per database backend (see `sqlite.rs`, `postgres.rs`).
#![allow(clippy::duplicate_mod)]

/// The PostgreSQL-only items of these files: left out here, compiled by the
/// `needs_postgres` target, which reports them ignored without a server.
macro_rules! needs_postgres {
    ($($item:item)*) => {};
}

mod binary;
mod config_refusals;
mod connections;
mod contract;
mod faults;
mod hardening;
mod helpers;
mod plans;
mod sdk_open_sets;

mod postgres;
mod sqlite;

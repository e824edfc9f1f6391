//! Test fixtures shared by the workspace's test suites: `adapters`' repository tests and
//! the black-box `gatehouse-tests`. A dev-dependency only: no crate depends on it for
//! its build.

pub mod postgres;

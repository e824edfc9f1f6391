//! The HTTP suites on SQLite: a database file per test.

use crate::helpers::{Backend, TestApp, spawn_app_on};

pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Sqlite, &[]).await
}

pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_on(Backend::Sqlite, vars).await
}

#[path = "abuse.rs"]
mod abuse;
#[path = "account.rs"]
mod account;
#[path = "auth.rs"]
mod auth;
#[path = "email_forms.rs"]
mod email_forms;
#[path = "framework.rs"]
mod framework;
#[path = "races.rs"]
mod races;
#[path = "sdk.rs"]
mod sdk;
#[path = "tokens.rs"]
mod tokens;
